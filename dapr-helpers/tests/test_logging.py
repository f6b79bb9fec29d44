import json
import logging

from dapr_helpers.logging import JsonFormatter, bind_order


def _format(record_msg: str) -> dict:
    record = logging.LogRecord("saga.test", logging.INFO, __file__, 1, record_msg, None, None)
    return json.loads(JsonFormatter("stock").format(record))


def test_log_line_is_json_with_service_and_no_order_outside_binding():
    line = _format("hello")
    assert line["service"] == "stock"
    assert line["message"] == "hello"
    assert line["level"] == "INFO"
    assert line["logger"] == "saga.test"
    assert "order_id" not in line


def test_log_line_carries_bound_order_id_and_drops_it_after():
    with bind_order(4711):
        assert _format("inside")["order_id"] == 4711
    assert "order_id" not in _format("after")
