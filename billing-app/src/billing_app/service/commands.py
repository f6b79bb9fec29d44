"""The saga steps: charge and refund, each idempotent by (order id, action).

One state transaction writes the effect (the account, the contended record,
with its ETag, and the entry appended to the login's payment listing) and the
outcome (the order's payment record, with its ETag);
a conflict re-runs the whole read-decide-write. The reply is published after
the commit; a duplicate command re-publishes the stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.state import retry_on_conflict

from billing_app.adapters.repository import BillingRepository
from billing_app.domain.payment import Outcome
from billing_app.messages import ChargeCommand, Command, RefundCommand, Reply
from billing_app.service.clock import utc_now

log = logging.getLogger(__name__)


class CommandService:
    def __init__(self, repo: BillingRepository, publisher: Publisher, replies_topic: str) -> None:
        self.repo = repo
        self.publisher = publisher
        self.replies_topic = replies_topic

    async def handle(self, command: Command) -> Reply:
        apply = self._charge if isinstance(command, ChargeCommand) else self._refund
        outcome = await retry_on_conflict(lambda: apply(command))  # type: ignore[arg-type]
        reply = Reply(order_id=command.order_id, action=command.action, **vars(outcome))
        await self.publisher.publish(self.replies_topic, reply)
        log.info("%s (attempt %s): ok=%s %s", command.action, command.attempt, reply.ok, reply.message)
        return reply

    async def _charge(self, command: ChargeCommand) -> Outcome:
        (payment, payment_etag), held = await self.repo.payment_and_account(command.order_id, command.login)
        if (done := payment.outcome_of("charge")) is not None:
            return done
        account = None if held is None else held.account
        outcome = payment.charge(account, command.login, command.amount, utc_now())
        ops = [self.repo.save_payment(payment, payment_etag)]
        if outcome.ok and held is not None:
            ops += self.repo.save_account(held)
        await self.repo.commit(*ops)
        return outcome

    async def _refund(self, command: RefundCommand) -> Outcome:
        payment, payment_etag = await self.repo.payment(command.order_id)
        if (done := payment.outcome_of("refund")) is not None:
            return done
        held = None
        if payment.status == "charged" and payment.login is not None:
            held = await self.repo.held_account(payment.login)
        outcome = payment.refund(None if held is None else held.account, utc_now())
        ops = [self.repo.save_payment(payment, payment_etag)]
        if held is not None:
            ops += self.repo.save_account(held)
        await self.repo.commit(*ops)
        return outcome
