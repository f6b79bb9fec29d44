"""The billing-commands subscription, driven by CloudEvents as the sidecar delivers them."""

import asyncio

from dapr_helpers.saga.contract import ChargePayment


def _balance(client, login):
    return client.get(f"/billing/account/{login}").json()["balance"]


def test_charge_takes_money_and_publishes_ok_reply(client, send, publisher, funded, order_id):
    login = funded(100)
    result = send({"order_id": order_id, "action": "charge", "login": login, "amount": "12.50"})
    assert result == {"status": "SUCCESS"}
    assert _balance(client, login) == 87.5
    [reply] = publisher.on("order-replies")
    assert reply["order_id"] == order_id
    assert (reply["participant"], reply["action"], reply["ok"]) == ("billing", "charge", True)


def test_refuses_charge_beyond_balance_and_keeps_balance(client, send, publisher, funded, order_id):
    login = funded(5)
    send({"order_id": order_id, "action": "charge", "login": login, "amount": "10000"})
    assert _balance(client, login) == 5.0
    [reply] = publisher.on("order-replies")
    assert (reply["ok"], reply["reason"]) == (False, "insufficient_funds")


def test_refuses_charge_for_unknown_account(send, publisher, order_id):
    send({"order_id": order_id, "action": "charge", "login": "nobody-here", "amount": "1"})
    assert publisher.on("order-replies")[0]["reason"] == "unknown_account"


def test_duplicate_charge_republishes_the_same_reply_and_charges_once(
    client, send, publisher, funded, order_id
):
    login = funded(100)
    command = {"order_id": order_id, "action": "charge", "login": login, "amount": "10", "attempt": 1}
    send(command)
    send(command | {"attempt": 2})
    assert _balance(client, login) == 90.0
    first, second = publisher.on("order-replies")
    assert first == second


def test_refund_returns_the_charge_and_is_idempotent(client, send, publisher, funded, order_id):
    login = funded(100)
    send({"order_id": order_id, "action": "charge", "login": login, "amount": "30"})
    send({"order_id": order_id, "action": "refund"})
    send({"order_id": order_id, "action": "refund"})
    assert _balance(client, login) == 100.0
    replies = publisher.on("order-replies")
    assert [r["action"] for r in replies] == ["charge", "refund", "refund"]
    assert replies[1] == replies[2] and replies[1]["ok"]
    kinds = [p["kind"] for p in client.get(f"/billing/account/{login}/payments").json()]
    assert kinds == ["refund", "charge"]  # newest first


def test_refuses_charge_after_its_refund_arrived_first(client, send, publisher, funded, order_id):
    login = funded(100)
    send({"order_id": order_id, "action": "refund"})
    send({"order_id": order_id, "action": "charge", "login": login, "amount": "30"})
    refund, charge = publisher.on("order-replies")
    assert refund["ok"] and refund["details"] == {"refunded": "0.00"}
    assert (charge["ok"], charge["reason"]) == (False, "order_cancelled")
    assert _balance(client, login) == 100.0
    assert client.get(f"/billing/payments/{order_id}").json()["status"] == "cancelled"


def test_malformed_command_is_dropped_and_changes_nothing(send, store, publisher, order_id):
    for bad in [
        {"order_id": order_id, "action": "charge", "login": "x", "amount": "-1"},
        {"order_id": order_id, "action": "charge", "login": "x", "amount": "1.001"},
        {"order_id": order_id, "action": "charge"},
        {"order_id": "nope", "action": "refund"},
        {"order_id": order_id, "action": "steal"},
        "not an object",
    ]:
        assert send(bad) == {"status": "DROP"}
    assert store.data == {} and publisher.published == []


def test_publish_failure_asks_for_retry_and_redelivery_publishes_stored_reply(
    client, send, publisher, funded, order_id
):
    login = funded(50)
    publisher.failures = 1
    command = {"order_id": order_id, "action": "charge", "login": login, "amount": "20"}
    assert send(command) == {"status": "RETRY"}
    assert send(command) == {"status": "SUCCESS"}
    assert _balance(client, login) == 30.0
    assert len(publisher.on("order-replies")) == 1


def test_charge_commits_despite_etag_conflicts(client, send, store, publisher, funded, order_id):
    login = funded(10)
    store.forced_conflicts = 3
    send({"order_id": order_id, "action": "charge", "login": login, "amount": "4"})
    assert _balance(client, login) == 6.0


async def test_concurrent_charges_never_overdraw(commands, store, publisher, new_order_id):
    from billing_app.adapters.repository import BillingRepository
    from billing_app.service.accounts import AccountService

    accounts = AccountService(BillingRepository(store))
    await accounts.register("race")
    await accounts.refill("race", 50)  # type: ignore[arg-type]
    store.forced_conflicts = 5
    charges = [
        ChargePayment(order_id=new_order_id(), action="charge", login="race", amount=10) for _ in range(20)
    ]
    replies = await asyncio.gather(*(commands.handle(c) for c in charges))
    assert sum(r.ok for r in replies) == 5
    assert {r.reason for r in replies if not r.ok} == {"insufficient_funds"}
    assert (await accounts.get("race")).balance == 0


async def test_concurrent_duplicates_of_one_charge_take_money_once(commands, store, new_order_id):
    from billing_app.adapters.repository import BillingRepository
    from billing_app.service.accounts import AccountService

    accounts = AccountService(BillingRepository(store))
    await accounts.register("dup")
    await accounts.refill("dup", 100)  # type: ignore[arg-type]
    command = ChargePayment(order_id=new_order_id(), action="charge", login="dup", amount=10)
    replies = await asyncio.gather(*(commands.handle(command) for _ in range(8)))
    assert len({r.model_dump_json() for r in replies}) == 1
    assert (await accounts.get("dup")).balance == 90


async def test_concurrent_charges_refunds_and_refills_keep_the_money_adding_up(commands, store, new_order_id):
    """Racing writers, duplicates and conflicts: the balance is always refills - charges + refunds,
    by the account's totals and by its listing, and the listing has one entry per movement."""
    from decimal import Decimal

    from billing_app.adapters.repository import BillingRepository
    from billing_app.service.accounts import AccountService
    from dapr_helpers.saga.contract import RefundPayment

    repo = BillingRepository(store)
    accounts = AccountService(repo)
    await accounts.register("busy")
    await accounts.refill("busy", Decimal(30))
    orders = [new_order_id() for _ in range(40)]
    charges = [ChargePayment(order_id=o, action="charge", login="busy", amount="1.50") for o in orders]
    refunds = [RefundPayment(order_id=o, action="refund") for o in orders[::3]]
    store.forced_conflicts = 10
    work = [commands.handle(c) for c in charges + charges[:5]] + [commands.handle(r) for r in refunds]
    work += [accounts.refill("busy", Decimal(1)) for _ in range(6)]
    await asyncio.gather(*work)

    account = await accounts.get("busy")
    page = await accounts.payments("busy", limit=100)
    listed = {kind: [e for e in page.entries if e.kind == kind] for kind in ("charge", "refund")}
    assert account.adds_up() and account.refilled == 36
    assert account.charged == sum(e.amount for e in listed["charge"])
    assert account.refunded == sum(e.amount for e in listed["refund"])
    payments = {o: await accounts.payment(o) for o in orders}
    charged = {o for o, p in payments.items() if p is not None and p.status in ("charged", "refunded")}
    assert sorted(e.order_id for e in listed["charge"]) == sorted(charged)  # each once
    refunded = sorted(o for o, p in payments.items() if p is not None and p.status == "refunded")
    assert sorted(e.order_id for e in listed["refund"]) == refunded
    assert page.total == len(page.entries) == len(charged) + len(refunded)


async def test_each_command_costs_one_read_and_one_transaction(store, publisher, new_order_id):
    """A refund of a charge reads the account in a second read: the payment record names it."""
    from decimal import Decimal

    from billing_app.adapters.repository import BillingRepository
    from billing_app.service.accounts import AccountService
    from billing_app.service.commands import CommandService
    from dapr_helpers.saga.contract import RefundPayment
    from saga_testkit.dapr import CountingStore

    counting = CountingStore(store)
    repo = BillingRepository(counting)
    accounts, commands = AccountService(repo), CommandService(repo, publisher, "order-replies")
    await accounts.register("thrifty")
    await accounts.refill("thrifty", Decimal(50))
    assert counting.counted() == {"create_json": 1, "bulk_get_json": 1, "transact": 1}

    charged, cancelled = new_order_id(), new_order_id()
    charge = ChargePayment(order_id=charged, action="charge", login="thrifty", amount=10)
    await commands.handle(charge)
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}
    await commands.handle(charge)  # a duplicate: the stored outcome, nothing written
    assert counting.counted() == {"bulk_get_json": 1}
    await commands.handle(ChargePayment(order_id=new_order_id(), action="charge", login="thrifty", amount=99))
    assert counting.counted() == {"bulk_get_json": 1, "transact": 1}  # refused: its outcome is kept
    await commands.handle(RefundPayment(order_id=cancelled, action="refund"))  # nothing charged
    assert counting.counted() == {"get_json": 1, "transact": 1}
    await commands.handle(RefundPayment(order_id=charged, action="refund"))
    assert counting.counted() == {"get_json": 1, "bulk_get_json": 1, "transact": 1}
    assert (await accounts.get("thrifty")).balance == 50
