"""A saga step's command, asked of its participant by Dapr service invocation.

The participant carries the command out and answers with its `Reply` in the
response (`dapr_helpers.service.answer_invocations`). Commands are idempotent by
(order id, action), so a call whose answer was lost is simply asked again, until
the step's deadline. An invocation that timed out may still have been carried
out: the saga compensates that step like one that succeeded.
"""

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import timedelta

from dapr_helpers.client import DaprHttpError, DaprRequests, DaprUnavailable
from dapr_helpers.saga.contract import COMMANDS_METHOD, Reply
from pydantic import ValidationError

from order_app.workflow.messages import Answer, Command

log = logging.getLogger(__name__)

# Between two calls of one command: long enough not to hammer a participant that is
# restarting, short enough that a brief outage costs about a second.
FIRST_PAUSE = 0.2
MAX_PAUSE = 2.0


class DaprParticipants:
    """`ask(command, within)` on `POST {COMMANDS_METHOD}` of the participant's app id."""

    def __init__(self, dapr: DaprRequests, app_ids: Mapping[str, str]) -> None:
        self.dapr = dapr
        self.app_ids = app_ids  # participant name -> its Dapr app id

    async def ask(self, command: Command, within: timedelta) -> Answer:
        """The participant's reply, or an `Answer` with no reply once `within` has passed."""
        last_error = "no answer"
        pause = FIRST_PAUSE
        try:
            async with asyncio.timeout(within.total_seconds()):
                while True:
                    try:
                        return Answer(reply=await self._call(command))
                    except Refused as err:  # asking again cannot change it
                        return Answer(error=str(err))
                    except (DaprUnavailable, DaprHttpError, ValueError) as err:
                        last_error = str(err)
                        log.debug("asking %s again: %s", command.participant, err)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, MAX_PAUSE)
        except TimeoutError:
            return Answer(error=f"{command.participant} did not answer in {within}: {last_error}")

    async def _call(self, command: Command) -> Reply:
        path = f"/invoke/{self.app_ids[command.participant]}/method/{COMMANDS_METHOD}"
        try:
            _, body, _ = await self.dapr.request("POST", path, command.body)
        except DaprHttpError as err:
            if err.status in (400, 422):
                raise Refused(f"{command.participant} refused the command: {err.message}") from None
            raise
        try:
            return Reply.model_validate(json.loads(body))
        except ValidationError as err:
            raise ValueError(f"{command.participant} gave an unreadable answer") from err


class Refused(Exception):
    """The participant could not read the command (a 4xx): a bug, never a passing failure."""
