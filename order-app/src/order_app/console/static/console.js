// The saga console. Orders arrive on a server-sent event stream (/console/api/events):
// a snapshot first, then each order that changed and the totals. Nothing is ever
// written with innerHTML: logins and messages are the customers' text.
"use strict";

const API = "/console/api";
const orders = new Map(); // id -> summary, the newest orders the stream has sent
let openId = null; // the order whose timeline is shown

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const words = (code) => (code ? code.replaceAll("_", " ") : "");

function seconds(value) {
  if (value === null || value === undefined) return "";
  return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

function time(iso, withDate = false) {
  if (!iso) return el("span", { class: "note", text: "–" });
  const d = new Date(iso);
  // a slot as an unambiguous UTC date and hour; a saga's moments to the millisecond, local time
  const text = withDate
    ? `${d.toISOString().slice(0, 16).replace("T", " ")}${withDate === "short" ? "" : " UTC"}`
    : d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  return el("time", { datetime: iso, title: iso, text });
}

function statusBadge(status) {
  return el("span", { class: `status status-${status}`, text: status });
}

function announce(text) {
  $("announce").textContent = text;
}

// ---- the orders table -------------------------------------------------------

function filters() {
  return { status: $("filter-status").value, login: $("filter-login").value.trim() };
}

function shown(order, f) {
  return (!f.status || order.status === f.status) && (!f.login || order.login === f.login);
}

function row(order) {
  const link = el("a", { href: `#order-${order.id}`, "aria-label": `Order ${order.id}, ${order.status}` }, `#${order.id}`);
  const tr = el(
    "tr",
    { "data-order-id": String(order.id), "data-status": order.status, "aria-current": order.id === openId ? "true" : null },
    el("th", { scope: "row" }, link),
    el("td", { class: "status-cell" }, statusBadge(order.status)),
    el("td", { class: "reason", text: words(order.reason) }),
    el("td", { class: "num", text: order.amount }),
    el("td", { text: order.login }),
    el("td", { class: "num", text: `${order.product_id} × ${order.quantity}` }),
    el("td", {}, time(order.slot, "short")), // the column's header says UTC
    el("td", { class: "num duration", text: seconds(order.duration_seconds) }),
  );
  return tr;
}

function renderTable() {
  const f = filters();
  const body = $("orders").tBodies[0];
  const focused = document.activeElement?.closest?.("tr")?.dataset.orderId;
  const rows = [...orders.values()].filter((o) => shown(o, f)).sort((a, b) => b.id - a.id).map(row);
  body.replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  $("empty").textContent = orders.size ? "No order matches the filters." : "No orders yet.";
  if (focused) body.querySelector(`tr[data-order-id="${focused}"] a`)?.focus();
}

function upsert(order, fresh) {
  const before = orders.get(order.id);
  orders.set(order.id, order);
  const f = filters();
  const body = $("orders").tBodies[0];
  const old = body.querySelector(`tr[data-order-id="${order.id}"]`);
  if (!shown(order, f)) {
    old?.remove();
  } else {
    const tr = row(order);
    if (fresh) tr.classList.add("fresh");
    if (old) {
      const hadFocus = old.contains(document.activeElement);
      old.replaceWith(tr);
      if (hadFocus) tr.querySelector("a").focus();
    } else {
      const next = [...body.rows].find((r) => Number(r.dataset.orderId) < order.id);
      body.insertBefore(tr, next || null);
    }
  }
  $("empty").hidden = body.rows.length > 0;
  if (!before) announce(`Order ${order.id} placed: ${order.status}.`);
  else if (before.status !== order.status)
    announce(`Order ${order.id} ${order.status}${order.reason ? `: ${words(order.reason)}` : ""}.`);
  if (order.id === openId && (!before || before.updated_at !== order.updated_at)) loadTimeline(order.id, false);
}

// ---- totals -------------------------------------------------------------------

function renderTotals(totals) {
  for (const dd of document.querySelectorAll("[data-total]")) dd.textContent = String(totals[dd.dataset.total]);
  const reasons = Object.entries(totals.rejected_by_reason);
  $("reasons").replaceChildren(
    ...(reasons.length
      ? reasons.map(([reason, n]) => el("li", { "data-reason": reason }, `${words(reason)}: `, el("strong", { text: String(n) })))
      : [el("li", { text: "none" })]),
  );
}

// ---- one order's timeline -------------------------------------------------------

const EVENT_TEXT = {
  requested: () => "requested",
  answered: (e) => `answered: ${e.answer}`,
  compensation_sent: (e) => `compensation sent (${e.attempts} ${e.attempts === 1 ? "attempt" : "attempts"})`,
  compensation_acknowledged: (e) => `compensation acknowledged after ${e.attempts} ${e.attempts === 1 ? "attempt" : "attempts"}`,
};

function stepItem(step) {
  const events = step.events.map((e) => {
    const parts = [time(e.at), " ", el("span", { class: "what", text: EVENT_TEXT[e.event](e) })];
    if (e.after_seconds !== null && e.after_seconds !== undefined) parts.push(el("span", { class: "note", text: ` (${seconds(e.after_seconds)} later)` }));
    if (e.event === "answered" && e.answer !== "ok" && (e.reason || e.message)) {
      parts.push(el("span", { class: "note", text: ` — ${words(e.reason)}${e.message ? `: ${e.message}` : ""}` }));
    }
    return el("li", { "data-event": e.event }, ...parts);
  });
  return el(
    "li",
    { class: "step", "data-step": step.name, "data-state": step.state },
    el("h3", {}, words(step.name), el("span", { class: "state", text: words(step.state) })),
    events.length ? el("ol", { class: "events" }, ...events) : el("p", { class: "note", text: "not started" }),
  );
}

function renderTimeline(order) {
  $("timeline-heading").textContent = `Order #${order.id}`;
  const facts = el(
    "dl",
    { class: "facts" },
    el("dt", { text: "Status" }), el("dd", {}, statusBadge(order.status), order.reason ? ` ${words(order.reason)}` : ""),
    el("dt", { text: "Message" }), el("dd", { text: order.message }),
    el("dt", { text: "Login" }), el("dd", { text: order.login }),
    el("dt", { text: "Amount" }), el("dd", { text: order.amount }),
    el("dt", { text: "Product" }), el("dd", { text: `${order.product_id} × ${order.quantity}` }),
    el("dt", { text: "Slot" }), el("dd", {}, time(order.slot, true)),
    el("dt", { text: "Created" }), el("dd", {}, time(order.created_at)),
    el("dt", { text: order.final ? "Finished" : "Last change" }), el("dd", {}, time(order.updated_at)),
    el("dt", { text: "Saga took" }), el("dd", { text: order.final ? seconds(order.duration_seconds) : "still running" }),
    el("dt", { text: "Dapr workflow" }), el("dd", {}, el("a", { href: order.workflow_url }, "workflow status (JSON)")),
  );
  $("timeline-body").replaceChildren(
    facts,
    el("h3", { id: "steps-heading", text: "Saga steps" }),
    el("ol", { class: "steps", "aria-labelledby": "steps-heading" }, ...order.steps.map(stepItem)),
  );
}

async function loadTimeline(id, focus) {
  openId = id;
  for (const tr of $("orders").tBodies[0].rows) tr.setAttribute("aria-current", String(Number(tr.dataset.orderId) === id));
  const section = $("timeline");
  section.hidden = false;
  try {
    const r = await fetch(`${API}/orders/${id}`, { headers: { Accept: "application/json" } });
    if (openId !== id) return; // another order was chosen meanwhile
    if (!r.ok) {
      $("timeline-heading").textContent = `Order #${id}`;
      $("timeline-body").replaceChildren(el("p", { text: r.status === 404 ? "No such order." : `Could not load it (${r.status}).` }));
    } else {
      renderTimeline(await r.json());
    }
  } catch (err) {
    $("timeline-body").replaceChildren(el("p", { text: `Could not load it: ${err}` }));
  }
  if (focus) $("timeline-heading").focus();
}

function route() {
  const m = /^#order-(\d+)$/.exec(location.hash);
  if (m) loadTimeline(Number(m[1]), true);
  else {
    openId = null;
    $("timeline").hidden = true;
  }
}

// ---- the live stream ----------------------------------------------------------------

function connect() {
  const status = $("connection");
  const source = new EventSource(`${API}/events`);
  source.addEventListener("open", () => {
    status.dataset.state = "live";
    status.textContent = "Live updates: on";
  });
  source.addEventListener("error", () => {
    status.dataset.state = "offline";
    status.textContent = "Live updates: reconnecting…";
  });
  source.addEventListener("snapshot", (e) => {
    const data = JSON.parse(e.data);
    orders.clear();
    for (const o of data.orders) orders.set(o.id, o);
    renderTable();
    renderTotals(data.totals);
    document.body.dataset.ready = "true"; // for tests: the first snapshot is on the page
  });
  source.addEventListener("order", (e) => upsert(JSON.parse(e.data), true));
  source.addEventListener("gone", (e) => {
    const { id } = JSON.parse(e.data);
    orders.delete(id);
    $("orders").tBodies[0].querySelector(`tr[data-order-id="${id}"]`)?.remove();
  });
  source.addEventListener("totals", (e) => renderTotals(JSON.parse(e.data)));
  window.addEventListener("pagehide", () => source.close());
}

$("filters").addEventListener("input", renderTable);
$("filters").addEventListener("submit", (e) => e.preventDefault());
window.addEventListener("hashchange", route);
connect();
route();
