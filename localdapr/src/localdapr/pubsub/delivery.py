"""Delivering a consumer group's messages to its app, as daprd's HTTP postman does.

Mirrors dapr/dapr `pkg/runtime/subscription/subscription.go` (envelope checks,
expiry, routing, resiliency retries, dead letters) and
`pkg/runtime/subscription/postman/http/http.go` (how the app's reply is read).
Each group runs one loop that hands due messages to at most `MAX_IN_FLIGHT`
concurrent deliveries, so order is not guaranteed (as with a Redis consumer
group). The loop sleeps on an in-memory event that publishing sets, so a new
message goes out at once; it only uses a timer to wake for a NACKed message.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import RetryPolicy
from ..db import now
from ..tracing import Tracing, header_value, parse_traceparent
from . import cloudevents
from .appchannel import AppChannel
from .broker import Broker, Message

if TYPE_CHECKING:
    from ..block import Host

log = logging.getLogger("localdapr.pubsub")

MAX_IN_FLIGHT = 32
PARKED = 1e18  # a NACKed message's due time when the component never redelivers


@dataclass(frozen=True)
class Route:
    """One subscription of one app: where a topic's messages go."""

    pubsub: str
    topic: str
    default_path: str | None
    rules: tuple[tuple[str, str], ...] = ()  # (match, path); only empty matches are evaluated
    dead_letter_topic: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def path(self) -> str | None:
        """Dapr's findMatchingRoute: the first rule that matches, else the default route.

        localdapr has no CEL evaluator: a rule with a non-empty `match` never
        matches (a warning is logged when the subscription is loaded).
        """
        for match, path in self.rules:
            if not match:
                return path
        return self.default_path


class Outcome(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    DROP = "drop"


def interpret_reply(status: int, body: bytes) -> Outcome:
    """The app's answer to a delivery, read exactly as daprd's HTTP postman reads it.

    2xx: the body's `status` decides; an empty, unparseable or non-object body,
    a missing or non-string status, or `""`/`SUCCESS` is success; `RETRY` and any
    unknown status retry; `DROP` drops. 404 drops. Anything else retries.
    """
    if 200 <= status <= 299:
        try:
            text = body.decode("utf-8").lstrip(" \t\r\n")
            reply, _ = json.JSONDecoder().raw_decode(text)
        except (UnicodeDecodeError, ValueError):
            return Outcome.SUCCESS
        if not isinstance(reply, dict):
            return Outcome.SUCCESS
        # Go's json matches struct fields case-insensitively (an exact match wins).
        value = reply.get("status")
        if "status" not in reply:
            value = next((v for k, v in reply.items() if k.lower() == "status"), None)
        if value is None:
            return Outcome.SUCCESS
        if not isinstance(value, str):
            return Outcome.SUCCESS  # a decode error: daprd skips the status check
        if value in ("", "SUCCESS"):
            return Outcome.SUCCESS
        if value == "DROP":
            return Outcome.DROP
        return Outcome.RETRY  # RETRY, or an unknown status
    if status == 404:
        return Outcome.DROP
    return Outcome.RETRY


def parse_bool(value: str) -> bool:
    """Go's strconv.ParseBool, which Dapr uses for `rawPayload`."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f"invalid boolean {value!r}")


def raw_payload(metadata: dict[str, str]) -> bool:
    value = metadata.get("rawPayload")
    return parse_bool(value) if value else False


@dataclass(frozen=True)
class DeliveryPolicy:
    retry: RetryPolicy | None  # the Resiliency inbound retry for the pubsub; None = one attempt
    timeout: float | None  # the Resiliency inbound timeout per attempt
    nack_delay: float | None  # when a NACKed message is due again (the component's redelivery)


class GroupConsumer:
    """Delivers one consumer group's pending messages to one app route."""

    def __init__(
        self,
        sidecar: Host,
        broker: Broker,
        route: Route,
        gid: int,
        policy: DeliveryPolicy,
        channel: AppChannel,
    ) -> None:
        self.sidecar = sidecar
        self.channel = channel
        self.broker = broker
        self.route = route
        self.gid = gid
        self.policy = policy
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        # When NACKed messages become due again (kept in memory: after a restart all are due).
        self._redeliveries: list[float] = []
        # Whether the database may hold due messages this loop has not seen: at start, after a
        # NACK comes due, or when a new message arrived while every slot was busy.
        self._backlog = True

    def start(self) -> None:
        self.broker.listen(self.gid, self.offer)
        self._task = asyncio.create_task(
            self._run(), name=f"pubsub {self.route.topic} -> {self.sidecar.app_id}"
        )

    async def stop(self) -> None:
        self.broker.unlisten(self.gid)
        tasks = [t for t in (self._task, *self._inflight.values()) if t]
        for task in tasks:
            task.cancel()
        # Cancelled deliveries stay pending in the database and go out again on the next start.
        await asyncio.gather(*tasks, return_exceptions=True)

    def offer(self, msg: Message) -> None:
        """A message just committed for this group: deliver it at once if a slot is free."""
        if msg.seq in self._inflight:
            return
        if not self._backlog and len(self._inflight) < MAX_IN_FLIGHT:
            self._start(msg)
        else:
            self._backlog = True  # older messages first; the loop reads them from the database
            self._wake.set()

    def _start(self, msg: Message) -> None:
        self._inflight[msg.seq] = asyncio.create_task(self._handle(msg))

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            t = now()
            while self._redeliveries and self._redeliveries[0] <= t:
                heapq.heappop(self._redeliveries)
                self._backlog = True
            free = MAX_IN_FLIGHT - len(self._inflight)
            if self._backlog and free > 0:
                due = self.broker.due(self.gid, free, self._inflight)
                for msg in due:
                    self._start(msg)
                self._backlog = len(due) == free
            timeout = self._redeliveries[0] - t if self._redeliveries else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _handle(self, msg: Message) -> None:
        try:
            await self._process(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "%s: delivering message %d of topic %s failed", self.sidecar.app_id, msg.seq, self.route.topic
            )
            await self._nack(msg)
        finally:
            self._inflight.pop(msg.seq, None)
            if self._backlog:
                self._wake.set()

    async def _nack(self, msg: Message) -> None:
        if self.policy.nack_delay is None:
            await self.broker.nack(self.gid, msg.seq, PARKED)
            return
        due = now() + self.policy.nack_delay
        await self.broker.nack(self.gid, msg.seq, due)
        heapq.heappush(self._redeliveries, due)
        self._wake.set()  # the loop must re-arm its timer for this redelivery

    async def _drop(self, msg: Message) -> None:
        if self.route.dead_letter_topic:
            await self.broker.dead_letter(self.gid, self.route.pubsub, msg, self.route.dead_letter_topic)
        else:
            await self.broker.ack(self.gid, msg.seq)

    def _envelope(self, msg: Message) -> tuple[dict[str, Any], bytes] | None:
        """The CloudEvent (parsed) and the exact body to POST, or None if unusable."""
        route = self.route
        try:
            if raw_payload(route.metadata):
                event = cloudevents.from_raw_payload(msg.data, route.topic, route.pubsub, msg.metadata)
                return event, cloudevents.encode(event)
            event = msg.fields if msg.fields is not None else json.loads(msg.data)
        except ValueError as exc:
            log.error(
                "%s: message %d of topic %s is not a CloudEvent: %s",
                self.sidecar.app_id,
                msg.seq,
                route.topic,
                exc,
            )
            return None
        if not isinstance(event, dict):
            log.error(
                "%s: message %d of topic %s is not a CloudEvent object",
                self.sidecar.app_id,
                msg.seq,
                route.topic,
            )
            return None
        return event, msg.data

    async def _process(self, msg: Message) -> None:
        prepared = self._envelope(msg)
        if prepared is None:
            await self._drop(msg)
            return
        event, body = prepared
        if cloudevents.has_expired(event):
            log.warning("%s: dropping expired event %s", self.sidecar.app_id, event.get("id"))
            await self._drop(msg)
            return
        path = self.route.path()
        if path is None:
            await self._drop(msg)  # no route matches: Dapr skips the event
            return
        attempt = 0
        while True:
            attempt += 1
            outcome, code = await self._deliver_once(path, body, event)
            if outcome is Outcome.SUCCESS:
                await self.broker.ack(self.gid, msg.seq)
                return
            if outcome is Outcome.DROP:
                await self._drop(msg)
                return
            retry = self.policy.retry
            # An error status reaches the policy as a CodeError, which only the retry's `matching`
            # codes retry (postman/http/http.go Deliver); RETRY and channel errors always retry.
            final = code is not None and retry is not None and not retry.retries_code(code)
            if retry is None or retry.exhausted(attempt) or final:
                # Without a policy daprd makes one attempt; when that or the policy's last one
                # fails, the message goes to the dead-letter topic, else the component gets the
                # error, and Redis Streams acknowledges a message whose handler failed (only one
                # cut off by processingTimeout stays pending): components-contrib
                # pubsub/redis/redis.go processMessage.
                await self._drop(msg)
                return
            await asyncio.sleep(retry.delay(attempt))

    async def _deliver_once(
        self, path: str, body: bytes, event: dict[str, Any]
    ) -> tuple[Outcome, int | None]:
        """The outcome, and the app's status when daprd reports the failure with it (a RETRY
        for an error status other than 404)."""
        sidecar = self.sidecar
        headers = {
            "Content-Type": cloudevents.CLOUDEVENT_CONTENT_TYPE,
            "pubsubname": self.route.pubsub,
            **sidecar.app_headers(),
        }
        if traceparent := delivery_traceparent(sidecar.tracing, event):
            headers["traceparent"] = traceparent
        try:
            async with asyncio.timeout(self.policy.timeout):
                status, reply = await self.channel.post(path, body, headers)
        except Exception as exc:  # refused, reset, timed out, not HTTP: all app-channel errors
            log.warning(
                "%s: app channel error delivering to %s: %s", sidecar.app_id, path, exc or type(exc).__name__
            )
            return Outcome.RETRY, None
        outcome = interpret_reply(status, reply)
        if outcome is not Outcome.SUCCESS:
            log.info(
                "%s: %s answered %d -> %s (event %s)",
                sidecar.app_id,
                path,
                status,
                outcome.value,
                event.get("id"),
            )
        failed_status = outcome is Outcome.RETRY and not 200 <= status <= 299
        return outcome, status if failed_status else None


def delivery_traceparent(tracing: Tracing, event: dict[str, Any]) -> str | None:
    """The `traceparent` header of a delivery, as daprd's (`subscription/postman/http` Deliver).

    Only an event with a trace field (`traceparent`, else `traceid`, even "") gets a span:
    `pkg/diagnostics` StartInternalCallbackSpan, none when samplingRate is "0" (no header).
    With a TracerProvider it is a child of the event's context (a root if that is invalid);
    without one, the no-op span hands the event's context on, and an invalid one, marked
    remote, is still written: zeros (`messaging/v1` InternalMetadataToHTTPHeader). The
    channel writes `tracestate` only from the span, and the event's is never read into it.
    """
    value = event.get("traceparent")
    if value is None:
        value = event.get("traceid")
    if not isinstance(value, str) or not tracing.middleware:
        return None
    return header_value(tracing.span(parse_traceparent(value)))
