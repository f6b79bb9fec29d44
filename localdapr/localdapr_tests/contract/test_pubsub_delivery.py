"""Delivery semantics that need control over the subscriber's process or the clock.

These drive localdapr's broker and delivery loop directly (no SDK): the app is
an aiohttp server the test starts and stops, so "connection refused" is real.
They need no sidecar target and run only when SAGA_RUNTIMES includes localdapr.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from localdapr.config import RetryPolicy
from localdapr.db import Database
from localdapr.pubsub import cloudevents
from localdapr.pubsub.appchannel import AppChannel
from localdapr.pubsub.broker import Broker
from localdapr.pubsub.delivery import DeliveryPolicy, GroupConsumer, Outcome, Route, interpret_reply
from localdapr.tracing import Tracing

from .conftest import localdapr_only

pytestmark = localdapr_only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    """A subscriber app that can be started and stopped on a fixed port."""

    def __init__(self, port: int, reply: Callable[[int], web.Response]) -> None:
        self.port = port
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []
        self.got = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.got.set()
        return self.reply(len(self.bodies))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.bodies) < count:
                self.got.clear()
                await self.got.wait()


def ok(_: int) -> web.Response:
    return web.json_response({"status": "SUCCESS"})


async def scenario(
    tmp_path: Path,
    policy: DeliveryPolicy,
    reply: Callable[[int], web.Response],
    body: Callable[[App, Broker, GroupConsumer], Awaitable[None]],
    dead_letter_topic: str | None = None,
) -> None:
    db = Database(tmp_path / "pubsub.sqlite3")
    broker = Broker(db)
    app = App(free_port(), reply)
    async with aiohttp.ClientSession() as http:
        sidecar = SimpleNamespace(
            app_id="sub",
            http=http,
            app_base_url=f"http://127.0.0.1:{app.port}",
            app_headers=dict,
            tracing=Tracing.from_spec(None),  # untraced, as a Configuration without `tracing`
        )
        route = Route("pubsub", "t", "/events", dead_letter_topic=dead_letter_topic)
        gid = broker.ensure_group("pubsub", "t", "sub")
        channel = AppChannel("127.0.0.1", app.port)
        consumer = GroupConsumer(sidecar, broker, route, gid, policy, channel)
        consumer.start()
        try:
            await body(app, broker, consumer)
        finally:
            await consumer.stop()
            channel.close()
            await app.stop()
    db.close()


async def publish(broker: Broker, topic: str = "t", k: str = "m1") -> None:
    data, fields = cloudevents.new_envelope(
        data=f'{{"k": "{k}"}}'.encode(),
        data_content_type="application/json",
        topic=topic,
        pubsub="pubsub",
        source="pub",
        traceparent="",
        tracestate="",
        metadata={},
    )
    await broker.publish("pubsub", topic, data, {}, False, fields)


def pending(broker: Broker) -> int:
    return int(broker.db.execute("SELECT COUNT(*) FROM pubsub_pending").fetchone()[0])


def test_connection_refused_is_retried_until_the_app_is_up(tmp_path: Path) -> None:
    """postman/http: an app-channel (connection) error is retriable; with an inbound
    retry policy the message is delivered once the subscriber listens again."""
    policy = DeliveryPolicy(RetryPolicy("constant", 0.05, 60, -1), None, 60.0)

    async def body(app: App, broker: Broker, consumer: GroupConsumer) -> None:
        await publish(broker)
        await asyncio.sleep(0.3)  # several refused attempts happen while the app is down
        await app.start()
        await app.wait(1)
        assert app.bodies[0]["data"] == {"k": "m1"}
        await asyncio.sleep(0.05)
        assert pending(broker) == 0

    asyncio.run(scenario(tmp_path, policy, ok, body))


def test_without_policy_a_failed_delivery_is_acknowledged(tmp_path: Path) -> None:
    """subscription.go: without a resiliency policy daprd makes one attempt and returns the
    error to the component; Redis Streams acknowledges a message whose handler failed
    (pubsub/redis/redis.go processMessage), so it is not delivered again."""
    policy = DeliveryPolicy(None, None, 0.3)

    async def body(app: App, broker: Broker, consumer: GroupConsumer) -> None:
        await app.start()
        await publish(broker)
        await app.wait(1)
        await asyncio.sleep(0.6)  # twice the redelivery delay
        assert len(app.bodies) == 1 and pending(broker) == 0

    asyncio.run(scenario(tmp_path, policy, lambda n: web.Response(status=500), body))


def test_retries_exhausted_without_dead_letter_topic_are_acknowledged(tmp_path: Path) -> None:
    """subscription.go: a bounded policy that runs out with no deadLetterTopic hands the error
    to the component, which acknowledges the message (see above): dropped."""
    policy = DeliveryPolicy(RetryPolicy("constant", 0.01, 60, 2), None, 0.3)

    async def body(app: App, broker: Broker, consumer: GroupConsumer) -> None:
        await app.start()
        await publish(broker)
        await app.wait(3)  # 1 attempt + 2 retries
        await asyncio.sleep(0.6)
        assert len(app.bodies) == 3 and pending(broker) == 0

    asyncio.run(scenario(tmp_path, policy, lambda n: web.json_response({"status": "RETRY"}), body))


def test_in_flight_messages_are_redelivered_by_a_new_process(tmp_path: Path) -> None:
    """At-least-once: what was handed out but not acknowledged is still pending in the
    database, so a new broker (a restarted process) delivers it again."""
    db = Database(tmp_path / "pubsub.sqlite3")
    broker = Broker(db)
    gid = broker.ensure_group("pubsub", "t", "sub")

    async def run() -> None:
        await publish(broker, k="a")
        await publish(broker, k="b")

    asyncio.run(run())
    assert [m.seq for m in broker.due(gid, 10, set())]  # "in flight" when the process dies
    db.conn.close()
    db2 = Database(tmp_path / "pubsub.sqlite3")
    broker2 = Broker(db2)
    broker2.reset_due()
    assert broker2.ensure_group("pubsub", "t", "sub") == gid
    assert len(broker2.due(gid, 10, set())) == 2
    db2.close()


def test_group_created_later_receives_kept_messages(tmp_path: Path) -> None:
    """Redis Streams groups are created at `0`: a subscriber that appears after a message was
    published to a topic nobody consumed yet still receives it."""
    db = Database(tmp_path / "pubsub.sqlite3")
    broker = Broker(db)
    asyncio.run(publish(broker, topic="early"))
    gid = broker.ensure_group("pubsub", "early", "late-app")
    assert len(broker.due(gid, 10, set())) == 1
    db.close()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'{"status": "SUCCESS"}', Outcome.SUCCESS),
        (200, b"", Outcome.SUCCESS),
        (204, b"", Outcome.SUCCESS),
        (200, b"not json", Outcome.SUCCESS),
        (200, b"{}", Outcome.SUCCESS),
        (200, b"[1, 2]", Outcome.SUCCESS),
        (200, b'{"status": ""}', Outcome.SUCCESS),
        (200, b'{"Status": "DROP"}', Outcome.DROP),
        (200, b'{"status": "RETRY"}', Outcome.RETRY),
        (200, b'{"status": "success"}', Outcome.RETRY),
        (200, b'{"status": "DROP"}', Outcome.DROP),
        (404, b"", Outcome.DROP),
        (500, b'{"status": "SUCCESS"}', Outcome.RETRY),
        (400, b"", Outcome.RETRY),
        (302, b"", Outcome.RETRY),
    ],
)
def test_reply_interpretation(status: int, body: bytes, outcome: Outcome) -> None:
    """postman/http/http.go Deliver: how the app's status code and body are read."""
    assert interpret_reply(status, body) is outcome


# -- the app channel's HTTP/1.1 client ------------------------------------------------


async def raw_server(replies: list[bytes], close_after_reply: bool) -> tuple[asyncio.Server, list[bytes]]:
    """An app that answers each request with the next canned reply, then maybe hangs up."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = int(
                next(
                    v
                    for k, v in (ln.split(b":", 1) for ln in head.split(b"\r\n")[1:] if b":" in ln)
                    if k.strip().lower() == b"content-length"
                )
            )
            requests.append(head + await reader.readexactly(length))
            writer.write(replies[min(len(requests), len(replies)) - 1])
            await writer.drain()
            if close_after_reply:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, requests


@pytest.mark.parametrize(
    ("reply", "status", "body"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{"status": "DROP"}\n', 200, b'{"status": "DROP"}\n'),
        (
            b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"st\r\n'
            b'e\r\natus": "RETRY"\r\n1\r\n}\r\n0\r\n\r\n',
            200,
            b'{"status": "RETRY"}',
        ),
        (b"HTTP/1.0 500 Oops\r\n\r\nbroken", 500, b"broken"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, b""),
    ],
)
def test_app_channel_reads_replies(reply: bytes, status: int, body: bytes) -> None:
    """Replies framed by Content-Length, chunked encoding, or the connection closing."""

    async def run() -> None:
        server, requests = await raw_server([reply], close_after_reply=True)
        channel = AppChannel("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            got = await channel.post(
                "/events/x", b'{"a":1}', {"Content-Type": "application/cloudevents+json"}
            )
        finally:
            channel.close()
            server.close()
        assert got == (status, body)
        assert requests[0].startswith(b"POST /events/x HTTP/1.1\r\n")
        assert requests[0].endswith(b'\r\n\r\n{"a":1}')

    asyncio.run(run())


def test_app_channel_resends_on_a_connection_the_app_closed() -> None:
    """A kept-alive connection the app has since closed is replaced, not reported as a failure."""
    ok_reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

    async def run() -> None:
        server, requests = await raw_server([ok_reply], close_after_reply=True)
        channel = AppChannel("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            for _ in range(3):
                assert await channel.post("/e", b"x", {}) == (200, b"{}")
                await asyncio.sleep(0.01)  # let the app's close arrive
        finally:
            channel.close()
            server.close()
        assert len(requests) == 3

    asyncio.run(run())
