"""Writes order-saga.postman_collection.json, the Postman v2.1 collection Newman runs.

The collection is data; this script is its source, so every request's scripts stay
short, consistent and reviewable. Edit here, then regenerate:

    .venv/bin/python postman/build_collection.py

`tests/newman/test_collection_file.py` fails when the JSON and this script disagree.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLLECTION = HERE / "order-saga.postman_collection.json"
NAMESPACE = uuid.UUID("6f1d4a52-1c8e-4c53-9a57-3a1f1f6f2b10")
WAIT_SECONDS = 25  # per GET /orders/{id}?wait=N; the order service caps N at 30
MAX_POLLS = 4  # then the order counts as stuck and the assertions fail
STEPS = ("reserve_stock", "reserve_courier", "charge_payment")

# -- JavaScript shared by several scripts (the sandbox has no shared functions) -------------

PICK_SLOTS = """
// A courier slot is one hour, starting on the hour of dtime. This run's slot is a random
// hour 1 to 5 years ahead, so runs (and other users) almost never meet in the same slot.
const HOUR = 3600 * 1000;
const hoursAhead = 365 * 24 + Math.floor(Math.random() * 4 * 365 * 24);
const slotStart = (Math.floor(Date.now() / HOUR) + hoursAhead) * HOUR;
const dtime = (minutes) => new Date(slotStart + minutes * 60000).toISOString().slice(0, 19).replace('T', ' ');
pm.collectionVariables.set('slot', dtime(0));          // the successful order books its courier
pm.collectionVariables.set('slotSameHour', dtime(30)); // the same slot, half past: no courier left
pm.collectionVariables.set('freeSlot', dtime(60));     // the next hour, free for the orders that fail
// The same times in ISO 8601, for GET /delivery/slots/{dtime}.
pm.collectionVariables.set('slotIso', dtime(0).replace(' ', 'T'));
pm.collectionVariables.set('slotSameHourIso', dtime(30).replace(' ', 'T'));
pm.collectionVariables.set('freeSlotIso', dtime(60).replace(' ', 'T'));
"""

SLOT_KEY = """
// The hour a dtime falls in, from "2030-01-08 10:30:00" or ISO 8601 ("2030-01-08T10:00:00Z").
const slotKey = (d) => new Date(String(d).replace(' ', 'T').replace(/(Z|[+-]\\d\\d:\\d\\d)?$/, 'Z'))
    .toISOString().slice(0, 13);
"""

# A paged listing (newest first, `limit`, `before`): the run's few entries fit in one page of
# PAGE, so the page must be the whole listing (X-Total-Count, no rel="next" Link).
PAGE = 10
WHOLE_PAGE = f"""
const page = pm.response.json();
pm.test('one page of at most {PAGE} holds the whole listing', function () {{
    pm.expect(page).to.be.an('array');
    pm.expect(page.length).to.be.at.most({PAGE});
    pm.expect(Number(pm.response.headers.get('X-Total-Count'))).to.eql(page.length);
    pm.expect(String(pm.response.headers.get('Link') || '')).not.to.include('rel="next"');
}});
"""

PROBLEM = """
pm.test('is an RFC 9457 problem with a stable code', function () {
    pm.expect(pm.response.headers.get('Content-Type')).to.include('application/problem+json');
    const problem = pm.response.json();
    pm.expect(problem.status).to.eql(pm.response.code);
    pm.expect(problem.code).to.be.a('string').and.not.empty;
    pm.expect(problem.detail).to.be.a('string').and.not.empty;
});
"""


def status_test(*codes: int) -> str:
    if len(codes) == 1:
        code = codes[0]
        return f"pm.test('status is {code}', function () {{ pm.response.to.have.status({code}); }});\n"
    listed = ", ".join(map(str, codes))
    return (
        f"pm.test('status is one of {listed}', function () "
        f"{{ pm.expect(pm.response.code).to.be.oneOf([{listed}]); }});\n"
    )


def problem_test(code: str, *codes: int, field: str | None = None) -> str:
    js = status_test(*codes) + PROBLEM
    js += (
        f"pm.test('problem code is {code}', function () "
        f"{{ pm.expect(pm.response.json().code).to.eql('{code}'); }});\n"
    )
    if field:
        js += f"""
pm.test('the problem names the field {field}', function () {{
    const problem = pm.response.json();
    const fields = (problem.errors || []).map((e) => e.field).concat(problem.field ? [problem.field] : []);
    pm.expect(fields.join(' ') + ' ' + problem.detail).to.include('{field}');
}});
"""
    return js


# -- Postman v2.1 structure ----------------------------------------------------------------


def script(listen: str, js: str) -> dict[str, Any]:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": js.strip("\n").split("\n")}}


def request(
    name: str,
    method: str,
    path: str,
    tests: str,
    *,
    body: dict[str, Any] | str | None = None,
    headers: dict[str, str] | None = None,
    pre: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    events = [script("prerequest", pre)] if pre else []
    events.append(script("test", tests))
    req: dict[str, Any] = {
        "method": method,
        "header": [{"key": k, "value": v} for k, v in (headers or {}).items()],
        "url": "{{baseUrl}}" + path,
    }
    if body is not None:
        raw = body if isinstance(body, str) else json_with_placeholders(body)
        req["header"].insert(0, {"key": "Content-Type", "value": "application/json"})
        req["body"] = {"mode": "raw", "raw": raw, "options": {"raw": {"language": "json"}}}
    if description:
        req["description"] = description
    return {"id": str(uuid.uuid5(NAMESPACE, name)), "name": name, "event": events, "request": req}


def json_with_placeholders(body: dict[str, Any]) -> str:
    """Pretty JSON where a value "{{{{var}}}}" (doubled braces) is left unquoted, for numbers."""
    text = json.dumps(body, indent=2, ensure_ascii=False)
    return text.replace('"{{{{', "{{").replace('}}}}"', "}}")


def folder(name: str, description: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "description": description, "item": items}


# -- requests reused by the scenarios --------------------------------------------------------


def order_body(
    *, quantity: int = 1, amount: int = 1, dtime: str = "{{slot}}", **extra: Any
) -> dict[str, Any]:
    """The assignment's own request shape: `e_mail`, `id_product` and the `quntity` spelling."""
    body = {
        "login": "{{login}}",
        "e_mail": "{{email}}",
        "id_product": "{{{{productId}}}}",
        "quntity": quantity,
        "amount": amount,
        "dtime": dtime,
    }
    body.update(extra)
    return body


def order_matches(body: dict[str, Any]) -> str:
    """Assertions that `order` (a response) is the order `body` asked for."""
    dtime_var = body["dtime"].strip("{}")
    return f"""
pm.test('the order is what was asked', function () {{
    pm.expect(order.login).to.eql(pm.collectionVariables.get('login'));
    pm.expect(order.e_mail).to.eql(pm.collectionVariables.get('email'));
    pm.expect(order.id_product).to.eql(Number(pm.collectionVariables.get('productId')));
    pm.expect(order.quantity).to.eql({body["quntity"]});
    pm.expect(order.amount).to.eql({body["amount"]});
    const asked = pm.collectionVariables.get('{dtime_var}').replace(' ', 'T') + 'Z';
    pm.expect(new Date(order.dtime).getTime(), order.dtime).to.eql(new Date(asked).getTime());
}});
"""


def create_order(name: str, body: dict[str, Any], save_as: str, *, key: bool = False) -> dict[str, Any]:
    headers = {"Idempotency-Key": "{{idempotencyKey}}"} if key else None
    tests = (
        status_test(201)
        + f"""
const order = pm.response.json();
pm.test('the order is pending and has an id', function () {{
    pm.expect(order.id).to.be.a('number');
    pm.expect(order.status).to.eql('pending');
    pm.expect(order.reason).to.eql(null);
}});
pm.test('Location points at the new order', function () {{
    pm.expect(pm.response.headers.get('Location')).to.match(new RegExp('/orders/' + order.id + '$'));
}});
pm.collectionVariables.set('{save_as}', order.id);
pm.collectionVariables.set('polls', 0);
"""
        + order_matches(body)
    )
    return request(name, "POST", "/orders/", tests, body=body, headers=headers)


def wait_final(
    name: str, order_var: str, status: str, reason: str | None, steps: dict[str, str]
) -> dict[str, Any]:
    """GET /orders/{id}?wait=N: the service holds the request until the saga ends; a bounded re-poll."""
    expected_reason = "null" if reason is None else f"'{reason}'"
    tests = f"""
const order = pm.response.json();
const polls = Number(pm.collectionVariables.get('polls') || 0);
if (pm.response.code === 200 && order.status === 'pending' && polls < {MAX_POLLS}) {{
    // Still running after the server-side wait: ask again, a bounded number of times.
    pm.collectionVariables.set('polls', polls + 1);
    console.log('order ' + order.id + ' still pending, asking again (' + (polls + 1) + '/{MAX_POLLS})');
    (pm.execution || postman).setNextRequest(pm.info.requestId);
}} else {{
    pm.collectionVariables.set('polls', 0);
    pm.test('status is 200', function () {{ pm.response.to.have.status(200); }});
    pm.test('it is this run\\'s order', function () {{
        pm.expect(order.id).to.eql(Number(pm.collectionVariables.get('{order_var}')));
        pm.expect(order.login).to.eql(pm.collectionVariables.get('login'));
    }});
    pm.test('final status is {status}', function () {{ pm.expect(order.status).to.eql('{status}'); }});
    pm.test('reason is {reason or "empty"}', function () {{
        pm.expect(order.reason == null ? null : order.reason).to.eql({expected_reason});
    }});
    pm.test('a human-readable message says what happened', function () {{
        pm.expect(order.message).to.be.a('string').and.not.empty;
    }});
    pm.test('the saga steps show what was done and undone', function () {{
        const states = {{}};
        (order.steps || []).forEach(function (s) {{ states[s.name] = s.state; }});
        pm.expect(states).to.eql({json.dumps(steps)});
    }});
}}
"""
    return request(name, "GET", f"/orders/{{{{{order_var}}}}}?wait={WAIT_SECONDS}", tests)


def get_balance(name: str, js: str) -> dict[str, Any]:
    tests = (
        status_test(200)
        + """
const account = pm.response.json();
pm.test('it is this run\\'s account', function () {
    pm.expect(account.login).to.eql(pm.collectionVariables.get('login'));
    pm.expect(account.balance).to.be.a('number');
});
"""
        + js
    )
    return request(name, "GET", "/billing/account/{{login}}", tests)


def get_available(name: str, js: str) -> dict[str, Any]:
    tests = (
        status_test(200)
        + """
const productId = Number(pm.collectionVariables.get('productId'));
const product = pm.response.json().find(function (p) { return p.id === productId; });
pm.test('the list has this run\\'s product', function () {
    pm.expect(product, 'product ' + productId).to.be.an('object');
    pm.expect(product.description).to.eql(pm.collectionVariables.get('productDescription'));
});
const available = product ? product.quantity : undefined;
"""
        + js
    )
    return request(name, "GET", "/stock", tests)


def get_bookings(name: str, slot_var: str, js: str) -> dict[str, Any]:
    """GET /delivery/slots/{dtime}: the slot's bookings (courier -> order), whatever the history."""
    tests = (
        status_test(200)
        + SLOT_KEY
        + f"""
const slot = pm.response.json();
pm.test('it is this run\\'s slot, its bookings keyed by courier', function () {{
    pm.expect(slotKey(slot.slot_start)).to.eql(slotKey(pm.collectionVariables.get('{slot_var}')));
    pm.expect(slot.bookings).to.be.an('object');
}});
// The orders holding a courier in this slot, in a stable order.
const inSlot = Object.values(slot.bookings || {{}}).sort(function (a, b) {{ return a - b; }});
"""
        + js
    )
    return request(name, "GET", f"/delivery/slots/{{{{{slot_var}Iso}}}}", tests)


def courier_released(name: str, order_var: str, status: str) -> dict[str, Any]:
    """GET /delivery/bookings/{order_id}: what delivery did for the rejected order."""
    return request(
        name,
        "GET",
        f"/delivery/bookings/{{{{{order_var}}}}}",
        status_test(200)
        + f"""
const booking = pm.response.json();
pm.test('the rejected order holds no courier anywhere: its booking is {status}', function () {{
    pm.expect(booking.order_id).to.eql(Number(pm.collectionVariables.get('{order_var}')));
    pm.expect(booking.status).to.eql('{status}');
}});
""",
    )


def failed_order(
    title: str,
    label: str,
    body: dict[str, Any],
    slot_var: str,
    reason: str,
    steps: dict[str, str],
    extra_before: tuple[dict[str, Any], ...] = (),
) -> list[dict[str, Any]]:
    """Capture balance, stock and the slot's bookings; order; expect rejection; expect nothing changed."""
    var = f"{label}OrderId"
    # A courier booked and then compensated is `released`; a refused booking stays `refused`.
    booking_status = "released" if steps["reserve_courier"] == "compensated" else "refused"
    items = [
        get_balance(
            f"{title}: balance before",
            """
pm.collectionVariables.set('balanceBefore', account.balance);
pm.test('balance kept for after the order: ' + account.balance, function () {
    pm.expect(account.balance).to.be.at.least(0);
});
""",
        ),
        get_available(
            f"{title}: stock before",
            """
pm.collectionVariables.set('availableBefore', available);
pm.test('available units kept for after the order: ' + available, function () {
    pm.expect(available).to.be.at.least(0);
});
""",
        ),
        get_bookings(
            f"{title}: bookings before",
            slot_var,
            """
pm.collectionVariables.set('slotBookingsBefore', JSON.stringify(inSlot));
pm.test('the slot\\'s bookings kept for after the order: ' + inSlot.length, function () {
    pm.expect(inSlot.length).to.be.at.most(1); // one courier: at most one booking per slot
});
""",
        ),
        *extra_before,
        create_order(f"{title}: create order", body, var),
        wait_final(f"{title}: wait for the final status", var, "rejected", reason, steps),
        get_balance(
            f"{title}: balance unchanged",
            """
const before = Number(pm.collectionVariables.get('balanceBefore'));
pm.test('balance is what it was before the order: ' + before, function () {
    pm.expect(account.balance).to.eql(before);
});
""",
        ),
        get_available(
            f"{title}: stock unchanged",
            """
const before = Number(pm.collectionVariables.get('availableBefore'));
pm.test('available units are what they were before the order: ' + before, function () {
    pm.expect(available).to.eql(before);
});
""",
        ),
        get_bookings(
            f"{title}: bookings unchanged",
            slot_var,
            f"""
pm.test('the slot\\'s bookings are what they were before the order', function () {{
    pm.expect(JSON.stringify(inSlot)).to.eql(pm.collectionVariables.get('slotBookingsBefore'));
    pm.expect(inSlot).not.to.include(Number(pm.collectionVariables.get('{var}')));
}});
""",
        ),
        courier_released(f"{title}: no courier held", var, booking_status),
    ]
    return items


def slot_is_full() -> dict[str, Any]:
    return request(
        "courier: the slot has no free courier",
        "GET",
        "/delivery/slots/{{slotSameHourIso}}",
        status_test(200)
        + """
const slot = pm.response.json();
pm.test('the successful order holds the slot\\'s only courier', function () {
    pm.expect(Object.values(slot.bookings)).to.eql([Number(pm.collectionVariables.get('successOrderId'))]);
    pm.expect(slot.free_couriers, 'more than one courier in the roster').to.eql([]);
});
""",
        description="The precondition of this scenario: the delivery roster has one courier (the default).",
    )


# -- the story -----------------------------------------------------------------------------

RUN_DATA = (
    """
// This run's own data. The first request of a run makes it (so does any request when none
// exists yet), so the collection runs any number of times against a live system shared with
// other users, and never depends on ids it did not create.
if (pm.info.requestName === 'register account' || !pm.collectionVariables.get('login')) {
    const stamp = Date.now();
    const name = pm.variables.replaceIn('{{$randomUserName}}').replace(/[^A-Za-z0-9]/g, '') || 'user';
    pm.collectionVariables.set('login', name + stamp);
    pm.collectionVariables.set('email', (name + '.' + stamp + '@example.com').toLowerCase());
    pm.collectionVariables.set('unknownLogin', 'nobody' + stamp + Math.floor(Math.random() * 1e6));
    pm.collectionVariables.set('productDescription',
        pm.variables.replaceIn('{{$randomProductName}}') + ' #' + stamp);
    pm.collectionVariables.set('idempotencyKey', pm.variables.replaceIn('{{$guid}}'));
    pm.collectionVariables.set('slotPicks', 0);
    pm.collectionVariables.set('polls', 0);
"""
    + "\n".join("    " + line if line else "" for line in PICK_SLOTS.strip("\n").split("\n"))
    + "\n}\n"
)


def slot_is_free(name: str, iso_var: str) -> dict[str, Any]:
    """GET /delivery/slots/{dtime} of one of this run's two slots; both taken by nobody, else draw again."""
    return request(
        name,
        "GET",
        f"/delivery/slots/{{{{{iso_var}}}}}",
        status_test(200)
        + SLOT_KEY
        + f"""
const slot = pm.response.json();
pm.test('it is the slot asked for', function () {{
    pm.expect(slotKey(slot.slot_start)).to.eql(slotKey(pm.collectionVariables.get('{iso_var}')));
    pm.expect(slot.bookings).to.be.an('object');
}});
const taken = Object.values(slot.bookings || {{}});
const picks = Number(pm.collectionVariables.get('slotPicks') || 0);
if (taken.length && picks < 5) {{
    // Someone else booked one of this run's slots: pick another pair and check both again.
    pm.collectionVariables.set('slotPicks', picks + 1);
{PICK_SLOTS}
    (pm.execution || postman).setNextRequest("check this run's slot is free");
}} else {{
    pm.test('nobody has booked it', function () {{ pm.expect(taken).to.eql([]); }});
}}
""",
    )


def setup() -> dict[str, Any]:
    return folder(
        "1. account, money, stock and a free slot",
        "A new account with 1000 on it, a new stock position of 100 units, and two free courier slots.",
        [
            request(
                "register account",
                "POST",
                "/billing/register?login={{login}}",
                status_test(201)
                + """
const account = pm.response.json();
pm.test('a new account with a zero balance', function () {
    pm.expect(account.login).to.eql(pm.collectionVariables.get('login'));
    pm.expect(account.balance).to.eql(0);
});
""",
            ),
            request(
                "refill account",
                "POST",
                "/billing/refill",
                status_test(200)
                + """
const account = pm.response.json();
pm.test('the balance is 1000', function () {
    pm.expect(account.login).to.eql(pm.collectionVariables.get('login'));
    pm.expect(account.balance).to.eql(1000);
});
""",
                body={"login": "{{login}}", "balance": 1000},
                description="The assignment's shape: `balance` is the amount added "
                "(`amount` is the canonical name).",
            ),
            request(
                "register stock position",
                "POST",
                "/stock/register",
                status_test(201)
                + """
const product = pm.response.json();
pm.test('a new position with an id and 100 units', function () {
    pm.expect(product.id).to.be.a('number');
    pm.expect(product.description).to.eql(pm.collectionVariables.get('productDescription'));
    pm.expect(product.quantity).to.eql(100);
});
pm.collectionVariables.set('productId', product.id);
""",
                body={"description": "{{productDescription}}", "quantity": 100},
            ),
            slot_is_free("check this run's slot is free", "slotIso"),
            slot_is_free("check this run's next slot is free", "freeSlotIso"),
        ],
    )


def success() -> dict[str, Any]:
    return folder(
        "2. successful order",
        "Stock and a courier are reserved, then the payment is taken: the order completes. "
        "A retry with the same Idempotency-Key returns the same order and starts no second saga.",
        [
            create_order("create order", order_body(), "successOrderId", key=True),
            request(
                "retry create order with the same Idempotency-Key",
                "POST",
                "/orders/",
                status_test(200)
                + """
pm.test('the same order, not a new one', function () {
    pm.expect(pm.response.json().id).to.eql(Number(pm.collectionVariables.get('successOrderId')));
    pm.expect(pm.response.headers.get('Idempotent-Replayed')).to.eql('true');
});
""",
                body=order_body(),
                headers={"Idempotency-Key": "{{idempotencyKey}}"},
            ),
            wait_final(
                "wait for the order to complete",
                "successOrderId",
                "completed",
                None,
                dict.fromkeys(STEPS, "succeeded"),
            ),
            request(
                "last order",
                "GET",
                "/orders/last",
                status_test(200)
                + """
const order = pm.response.json();
pm.test('the latest order is this one or a newer one', function () {
    pm.expect(order.id).to.be.at.least(Number(pm.collectionVariables.get('successOrderId')));
    pm.expect(order.status).to.be.oneOf(['pending', 'completed', 'rejected']);
});
""",
            ),
            get_balance(
                "balance after the order",
                "pm.test('1 was charged once: 999 left', function () {\n"
                "    pm.expect(account.balance).to.eql(999);\n});\n",
            ),
            get_available(
                "stock after the order",
                "pm.test('1 unit was taken once: 99 left', function () {\n"
                "    pm.expect(available).to.eql(99);\n});\n",
            ),
            get_bookings(
                "bookings after the order",
                "slot",
                """
pm.test('the slot\\'s one courier is booked for this order, once', function () {
    pm.expect(inSlot).to.eql([Number(pm.collectionVariables.get('successOrderId'))]);
});
""",
            ),
        ],
    )


def bad_requests() -> dict[str, Any]:
    return folder(
        "6. requests refused at once",
        "Refused before any saga starts: a clear problem, and nothing changes.",
        [
            request(
                "order for an unknown login",
                "POST",
                "/orders/",
                problem_test("unknown_account", 422, field="login"),
                body=order_body(login="{{unknownLogin}}", dtime="{{freeSlot}}"),
            ),
            request(
                "account of an unknown login",
                "GET",
                "/billing/account/{{unknownLogin}}",
                problem_test("unknown_account", 404),
            ),
            request(
                "order with a malformed body",
                "POST",
                "/orders/",
                problem_test("malformed_body", 400),
                body='{\n  "login": "{{login}}",\n  "quntity": 1,\n  "amount": ',
            ),
            request(
                "order with a missing field",
                "POST",
                "/orders/",
                problem_test("missing_field", 422, field="dtime"),
                body={k: v for k, v in order_body().items() if k != "dtime"},
            ),
            request(
                "order for a slot in the past",
                "POST",
                "/orders/",
                problem_test("dtime_in_past", 422, field="dtime"),
                body=order_body(dtime="2020-01-08 10:00:00"),
            ),
            request(
                "same Idempotency-Key with a different body",
                "POST",
                "/orders/",
                problem_test("idempotency_key_reused", 422),
                body=order_body(amount=2),
                headers={"Idempotency-Key": "{{idempotencyKey}}"},
            ),
        ],
    )


def totals() -> dict[str, Any]:
    return folder(
        "7. the run's totals",
        "After everything: one charge, one unit and one courier slot taken, all for the successful order.",
        [
            get_balance(
                "balance at the end",
                "pm.test('still 999', function () { pm.expect(account.balance).to.eql(999); });\n",
            ),
            get_available(
                "stock at the end",
                "pm.test('still 99', function () { pm.expect(available).to.eql(99); });\n",
            ),
            get_bookings(
                "bookings at the end",
                "slot",
                """
pm.test('still only the successful order in the slot', function () {
    pm.expect(inSlot).to.eql([Number(pm.collectionVariables.get('successOrderId'))]);
});
""",
            ),
            request(
                "payments of the account",
                "GET",
                f"/billing/account/{{{{login}}}}/payments?limit={PAGE}",
                status_test(200)
                + WHOLE_PAGE
                + """
pm.test('one charge of 1, for the successful order; nothing for the rejected ones', function () {
    const payments = page.map(function (p) {
        return { kind: p.kind, amount: p.amount, order_id: p.order_id };
    });
    const order = Number(pm.collectionVariables.get('successOrderId'));
    pm.expect(payments).to.eql([{ kind: 'charge', amount: 1, order_id: order }]);
});
""",
            ),
            request(
                "reservations of the product",
                "GET",
                f"/stock/{{{{productId}}}}/reservations?limit={PAGE}",
                status_test(200)
                + WHOLE_PAGE
                + """
pm.test('one unit, held by the successful order; nothing by the rejected ones', function () {
    const order = Number(pm.collectionVariables.get('successOrderId'));
    // A released reservation may be listed, with its status: only `reserved` ones hold units.
    const held = page.filter(function (r) { return (r.status || 'reserved') === 'reserved'; })
        .map(function (r) { return { order_id: r.order_id, quantity: r.quantity }; });
    pm.expect(held).to.eql([{ order_id: order, quantity: 1 }]);
});
""",
            ),
        ],
    )


def collection() -> dict[str, Any]:
    compensated_but = {s: "compensated" for s in STEPS}
    variables = [
        ("baseUrl", "http://arch.homework", "The gateway; the local environment file overrides it."),
        ("login", "", "This run's account (generated)."),
        ("email", "", ""),
        ("unknownLogin", "", "A login nobody registered."),
        ("productDescription", "", "This run's stock position (generated)."),
        ("productId", "", ""),
        ("slot", "", "This run's courier slot (generated, 1 to 5 years ahead)."),
        ("slotSameHour", "", "Half past the slot's hour: the same slot."),
        ("freeSlot", "", "The hour after the slot, never booked by this run."),
        ("slotIso", "", "slot in ISO 8601, for a URL path."),
        ("slotSameHourIso", "", "slotSameHour in ISO 8601, for a URL path."),
        ("freeSlotIso", "", "freeSlot in ISO 8601, for a URL path."),
        ("idempotencyKey", "", ""),
        ("successOrderId", "", ""),
        ("moneyOrderId", "", ""),
        ("stockOrderId", "", ""),
        ("courierOrderId", "", ""),
        ("balanceBefore", "", "Captured before each failing order."),
        ("availableBefore", "", ""),
        ("slotBookingsBefore", "", ""),
        ("slotPicks", "0", ""),
        ("polls", "0", ""),
    ]
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(NAMESPACE, "order-saga")),
            "name": "order-saga",
            "description": (
                "An orchestrated saga on Dapr: creating an order reserves stock, books a courier slot "
                "and takes the payment; if any step fails, everything started is undone.\n\n"
                "The story: a new account with money, a new stock position, a successful order, then "
                "the three failing ones (not enough money, not enough units, no courier left in the "
                "slot), each checked to leave balance, stock and bookings exactly as they were. Every "
                "run makes its own account, product and slot, so it can run any number of times "
                "against the same live system. Waits use `GET /orders/{id}?wait=N`, never a sleep."
            ),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "event": [script("prerequest", RUN_DATA)],
        "variable": [
            {"key": k, "value": v, "type": "string", **({"description": d} if d else {})}
            for k, v, d in variables
        ],
        "item": [
            setup(),
            success(),
            folder(
                "3. not enough money",
                "Stock and courier are reserved, the payment is refused: both reservations are undone.",
                failed_order(
                    "money",
                    "money",
                    order_body(amount=10000, dtime="{{freeSlot}}"),
                    "freeSlot",
                    "insufficient_funds",
                    {**compensated_but, "charge_payment": "refused"},
                ),
            ),
            folder(
                "4. not enough units",
                "More units than exist: the stock refuses, the courier booked in parallel is released, "
                "no payment is taken.",
                failed_order(
                    "units",
                    "stock",
                    order_body(quantity=1000, dtime="{{freeSlot}}"),
                    "freeSlot",
                    "insufficient_stock",
                    {**compensated_but, "reserve_stock": "refused", "charge_payment": "not_started"},
                ),
            ),
            folder(
                "5. no courier for the slot",
                "The slot's only courier is taken by the successful order: the stock reserved in "
                "parallel is released, no payment is taken.",
                failed_order(
                    "courier",
                    "courier",
                    order_body(dtime="{{slotSameHour}}"),
                    "slot",
                    "no_courier_available",
                    {**compensated_but, "reserve_courier": "refused", "charge_payment": "not_started"},
                    extra_before=(slot_is_full(),),
                ),
            ),
            bad_requests(),
            totals(),
        ],
    }


def render() -> str:
    return json.dumps(collection(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    COLLECTION.write_text(render())
    print(f"wrote {COLLECTION}")
