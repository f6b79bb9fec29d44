"""`GET /billing/account/{login}/payments`: charges and refunds, newest first, a page at a time."""

import pytest
from billing_app.adapters.repository import CHUNK_SIZE


def _charge(send, login, order_id, amount="1.00"):
    send({"order_id": order_id, "action": "charge", "login": login, "amount": amount})


def test_lists_charges_and_refunds_newest_first_without_refills(client, send, funded, new_order_id):
    login = funded(100)
    first, second = new_order_id(), new_order_id()
    _charge(send, login, first, "10")
    _charge(send, login, second, "2.50")
    send({"order_id": first, "action": "refund"})
    resp = client.get(f"/billing/account/{login}/payments")
    assert resp.status_code == 200
    items = resp.json()
    assert [(p["kind"], p["amount"], p["order_id"]) for p in items] == [
        ("refund", 10.0, first),
        ("charge", 2.5, second),
        ("charge", 10.0, first),
    ]
    assert all(p["at"].endswith("Z") for p in items)
    assert resp.headers["X-Total-Count"] == "3"
    assert "Link" not in resp.headers


def test_pages_follow_the_link_across_sealed_chunks_to_the_end(client, send, funded, new_order_id):
    login = funded(1000)
    orders = [new_order_id() for _ in range(CHUNK_SIZE * 2 + 5)]
    for order_id in orders:
        _charge(send, login, order_id)
    seen, url, pages = [], f"/billing/account/{login}/payments?limit=10", 0
    while url:
        resp = client.get(url)
        assert resp.headers["X-Total-Count"] == str(len(orders))
        seen += [p["order_id"] for p in resp.json()]
        link = resp.headers.get("Link")
        url = link[1 : link.index(">")] if link else None  # type: ignore[assignment]
        pages += 1
    assert seen == orders[::-1] and pages == 7
    resp = client.get(f"/billing/account/{login}/payments", params={"limit": 10, "before": 10})
    assert [p["order_id"] for p in resp.json()] == orders[9::-1]
    assert "Link" not in resp.headers


def test_the_next_link_is_relative_and_keeps_the_limit(client, send, funded, new_order_id):
    login = funded(10)
    for _ in range(3):
        _charge(send, login, new_order_id())
    resp = client.get(f"/billing/account/{login}/payments", params={"limit": 2})
    assert len(resp.json()) == 2
    assert resp.headers["Link"] == f'</billing/account/{login}/payments?limit=2&before=1>; rel="next"'


def test_the_default_page_is_twenty(client, send, funded, new_order_id):
    login = funded(100)
    for _ in range(21):
        _charge(send, login, new_order_id())
    resp = client.get(f"/billing/account/{login}/payments")
    assert len(resp.json()) == 20 and resp.headers["X-Total-Count"] == "21"
    assert resp.headers["Link"].endswith('?limit=20&before=1>; rel="next"')


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"before": -1}])
def test_refuses_a_page_out_of_range_with_422(client, funded, params):
    resp = client.get(f"/billing/account/{funded(0)}/payments", params=params)
    assert resp.status_code == 422
    assert resp.json()["code"] == "validation_error"


def test_a_cursor_past_the_start_is_an_empty_page(client, send, funded, order_id):
    login = funded(5)
    _charge(send, login, order_id)
    assert client.get(f"/billing/account/{login}/payments", params={"before": 0}).json() == []
    assert len(client.get(f"/billing/account/{login}/payments", params={"before": 99}).json()) == 1


def test_payments_of_an_unknown_account_are_404(client):
    resp = client.get("/billing/account/nobody-at-all/payments")
    assert (resp.status_code, resp.json()["code"]) == (404, "unknown_account")


def test_a_refused_charge_is_not_listed(client, send, funded, order_id):
    login = funded(1)
    _charge(send, login, order_id, "5")
    resp = client.get(f"/billing/account/{login}/payments")
    assert resp.json() == [] and resp.headers["X-Total-Count"] == "0"


def test_paging_is_described_in_the_api_document(client):
    op = client.get("/billing/openapi.json").json()["paths"]["/billing/account/{login}/payments"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 100 and params["limit"]["schema"]["default"] == 20
    assert params["before"]["schema"]["anyOf"][0]["minimum"] == 0
    assert "newest first" in op["description"]
