"""A participant's command handler: each command to its handler by a table, then the reply.

A handler is one read-decide-write (a unit of work) that returns the command's
`Outcome`, stored with its effect; a conflict re-runs it (`retry_on_conflict`). The
reply is published after the commit; a duplicate command's handler returns the
stored outcome, so the same reply goes out again.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import Reply, SagaCommand
from dapr_helpers.saga.participation import Outcome
from dapr_helpers.state import retry_on_conflict

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
        handler = self.handlers[command.action]
        outcome = await retry_on_conflict(lambda: handler(command))
        reply = Reply(
            order_id=command.order_id, participant=self.participant, action=command.action, **vars(outcome)
        )
        await self.publisher.publish(self.replies_topic, reply)
        self.log.info("%s (attempt %s): ok=%s %s", command.action, command.attempt, reply.ok, reply.message)
        return reply
