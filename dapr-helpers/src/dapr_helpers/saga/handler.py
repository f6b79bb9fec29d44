"""A participant's command handler: each command to its handler by a table, then the reply.

A handler is one read-decide-write (a unit of work) that returns the command's
`Outcome`, stored with its effect; a conflict re-runs it (`retry_on_conflict`).
`answer` returns the reply (to a command invoked by the orchestrator); `handle`
publishes it after the commit (to a command that came by pub/sub). A duplicate
command's handler returns the stored outcome, so the same reply comes back again. Each delivery is counted in
`saga_commands_total` (`dapr_helpers.metrics`): done, refused, replayed or failed.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from dapr_helpers import metrics
from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import Reply, SagaCommand
from dapr_helpers.saga.participation import Outcome, replaying
from dapr_helpers.state import retry_on_conflict
from dapr_helpers.tracing import child_span

Handler = Callable[[Any], Awaitable[Outcome]]


class ParticipantCommands:
    """`handlers` maps each action of the participant's commands to its handler."""

    def __init__(
        self,
        participant: str,
        handlers: Mapping[str, Handler],
        publisher: Publisher,
        replies_topic: str,
        log: logging.Logger,
    ) -> None:
        self.participant = participant
        self.handlers = handlers
        self.publisher = publisher
        self.replies_topic = replies_topic
        self.log = log

    async def handle(self, command: SagaCommand) -> Reply:
        """A command from pub/sub: answered on the replies topic."""
        reply = await self.answer(command)
        name = f"{self.replies_topic} {self.participant}.{command.action}"
        with child_span(name, SpanKind.PRODUCER, {"messaging.destination.name": self.replies_topic}):
            await self.publisher.publish(self.replies_topic, reply)
        return reply

    async def answer(self, command: SagaCommand) -> Reply:
        """Carry the command out (or find it done already) and return its reply."""
        handler = self.handlers[command.action]
        token = replaying.set(False)
        try:
            outcome = await retry_on_conflict(lambda: handler(command))
            replayed = replaying.get()
        except Exception:
            self._count(command, metrics.FAILED)  # asked again: redelivered, or invoked again
            raise
        finally:
            replaying.reset(token)
        # Counted before the reply goes out: a reply that fails to publish (or an invocation
        # whose answer is lost) comes again, and its command is counted again as `replayed`.
        result = metrics.DONE if outcome.ok else metrics.REFUSED
        self._count(command, metrics.REPLAYED if replayed else result)
        reply = Reply(
            order_id=command.order_id, participant=self.participant, action=command.action, **vars(outcome)
        )
        self.log.info("%s (attempt %s): ok=%s %s", command.action, command.attempt, reply.ok, reply.message)
        return reply

    def _count(self, command: SagaCommand, result: str) -> None:
        metrics.COMMANDS.labels(self.participant, command.action, result).inc()
