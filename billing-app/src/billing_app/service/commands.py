"""The saga steps: charge and refund, each idempotent by (order id, action).

Each attempt is a unit of work (`BillingUnit`): one transaction writes the effect
(the account, the contended record, and the entry appended to the login's
payment listing) and the outcome (the order's payment record), each checked
against the ETag it was read with; a conflict re-runs the whole read-decide-write.
The reply is published after the commit; a duplicate command re-publishes the
stored outcome.
"""

import logging

from dapr_helpers.pubsub import Publisher
from dapr_helpers.saga.contract import BILLING, ChargePayment, RefundPayment
from dapr_helpers.saga.handler import Handler, ParticipantCommands
from dapr_helpers.saga.participation import Outcome

from billing_app.adapters.repository import BillingRepository
from billing_app.service.clock import utc_now

log = logging.getLogger(__name__)


class CommandService(ParticipantCommands):
    def __init__(self, repo: BillingRepository, publisher: Publisher, replies_topic: str) -> None:
        self.repo = repo
        handlers: dict[str, Handler] = {"charge": self._charge, "refund": self._refund}
        super().__init__(BILLING.name, handlers, publisher, replies_topic, log)

    async def _charge(self, command: ChargePayment) -> Outcome:
        billing = self.repo.unit()
        payment, account = await billing.payment_and_account(command.order_id, command.login)
        if (done := payment.outcome_of("charge")) is not None:
            return done
        outcome = payment.charge(account, command.login, command.amount, utc_now())
        billing.save_payment(payment)
        if outcome.ok and account is not None:
            billing.save_account(account)
        await billing.commit()
        return outcome

    async def _refund(self, command: RefundPayment) -> Outcome:
        billing = self.repo.unit()
        payment = await billing.payment(command.order_id)
        if (done := payment.outcome_of("refund")) is not None:
            return done
        account = None
        if payment.status == "charged" and payment.login is not None:  # a second read: what to refund to
            account = await billing.account(payment.login)
        outcome = payment.refund(account, utc_now())
        billing.save_payment(payment)
        if account is not None:
            billing.save_account(account)
        await billing.commit()
        return outcome
