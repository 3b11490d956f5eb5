// The simulator dashboard: reads GET /_sim/ui/data, moves the clock with POST /_sim/clock/advance.
// Every value from the server goes into the page as text (textContent), never as markup.
"use strict";

const KEY_STORE = "pcsim.key";
const REFRESH_MS = 2000;
// ?limit=N shows the newest N of each kind (the server allows 1 to 1000).
const LIMIT = Math.min(1000, Math.max(1,
  parseInt(new URLSearchParams(location.search).get("limit"), 10) || 100));

const $ = (id) => document.getElementById(id);
let busy = false;
let loadFailed = false;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "title") node.title = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function key() {
  return sessionStorage.getItem(KEY_STORE) || "";
}

// A key given as ?key= is kept for this tab and taken out of the address (and the history).
function keyFromAddress() {
  const params = new URLSearchParams(location.search);
  if (params.has("key")) {
    sessionStorage.setItem(KEY_STORE, params.get("key"));
    params.delete("key");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (key()) headers["X-Sim-Key"] = key();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await resp.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch (_) {
    payload = null;
  }
  if (!resp.ok) {
    const why = (payload && payload.description) || text || resp.statusText;
    const error = new Error(why);
    error.status = resp.status;
    throw error;
  }
  return payload;
}

function say(text, kind) {
  const box = $("message");
  box.textContent = text || "";
  box.className = kind || "";
  box.hidden = !text;
}

function problem(error) {
  if (error.status === 401) {
    say("This simulator's control plane needs its key: enter it above (X-Sim-Key). " +
        error.message, "error");
    $("key").focus();
  } else {
    say(error.message, "error");
  }
}

// -- formatting ---------------------------------------------------------------------------------

function instant(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z");
}

function left(seconds) {
  if (seconds <= 0) return "0 s";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return h ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min`;
  return `${seconds} s`;
}

function total(shown, all) {
  return shown < all ? `newest ${shown} of ${all.toLocaleString()}` : String(all);
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || ""}` }, text);
}

function cancelCell(window) {
  if (!window.open) {
    return el("td", { "data-col": "cancel", "data-state": "closed" }, badge("closed", "off"));
  }
  return el("td", { "data-col": "cancel", "data-state": "open", title: `until ${window.until}` },
    badge("open", "on"), el("div", { class: "sub" }, `closes in ${left(window.secondsLeft)}`));
}

function reductionCell(reduction) {
  if (!reduction.open) {
    return el("td", { "data-col": "reduction", "data-state": "closed" }, badge("closed", "off"));
  }
  const detail = reduction.batches.map((b) => `${b.quantity} until ${instant(b.until)}`).join("; ");
  const seats = reduction.quantity === 1 ? "1 seat" : `${reduction.quantity} seats`;
  return el("td", { "data-col": "reduction", "data-state": "open", title: detail },
    badge(seats, "on"), el("div", { class: "sub" }, `${left(reduction.secondsLeft)} left`));
}

function renewalCell(s) {
  const r = s.renewal;
  const text = {
    renewing: "renewal in progress",
    renews: "renews",
    converts: "trial converts",
    expires: "expires",
    ended: "ended",
    none: "no term (perpetual)",
  }[r.state] || r.state;
  const notes = [];
  if (r.at) notes.push(`${r.state === "renewing" ? "done" : ""} in ${left(r.secondsLeft)}`.trim());
  if (r.scheduledChange) notes.push("change scheduled");
  if (!s.autoRenew && r.state !== "ended" && r.state !== "none") notes.push("auto-renew off");
  return el("td", { "data-col": "renewal", "data-state": r.state, title: r.at || null },
    r.at && r.state !== "renewing" ? `${text} ${r.at.slice(0, 10)}` : text,
    notes.length ? el("div", { class: "sub" }, notes.join(" · ")) : null);
}

// -- rendering ----------------------------------------------------------------------------------

function fill(id, rows, empty, columns) {
  const body = $(id);
  if (!rows.length) {
    rows = [el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, empty))];
  }
  body.replaceChildren(...rows);
}

function render(data) {
  $("now").textContent = instant(data.now);
  $("now").setAttribute("datetime", data.now);
  $("pending").textContent = `${data.pendingEvents} event(s) scheduled`;
  const t = data.totals;
  $("subscriptions-count").textContent = total(data.subscriptions.length, t.subscriptions);
  $("customers-count").textContent = total(data.customers.length, t.customers);
  $("transfers-count").textContent = total(data.transfers.length, t.transfers);
  $("partners-count").textContent = total(data.partners.length, t.partners);
  $("faults-count").textContent = String(data.faults.length);
  $("requests-count").textContent = total(data.requests.length, t.requests);

  fill("subscriptions", data.subscriptions.map((s) => el("tr", { "data-sub-id": s.id },
    el("td", { title: s.offerId }, el("strong", {}, s.friendlyName || s.offerName),
      el("div", { class: "id" }, s.id)),
    el("td", { title: s.customerId }, s.customerDomain || s.customerId),
    el("td", { "data-col": "status" }, badge(s.status, `st-${s.status}`),
      s.isTrial ? badge("trial", "") : null),
    el("td", { class: "num", "data-col": "seats" }, s.quantity),
    cancelCell(s.cancellation),
    reductionCell(s.seatReduction),
    renewalCell(s),
    el("td", {}, [s.termDuration, s.billingCycle].filter(Boolean).join(" "),
      s.commitmentEndDate ? el("div", { class: "id" }, `term ends ${s.commitmentEndDate.slice(0, 10)}`) : null),
  )), "No subscriptions yet: buy one through /v1 (cart + checkout).", 8);

  fill("customers", data.customers.map((c) => el("tr", { "data-customer-id": c.tenantId },
    el("td", {}, c.companyName), el("td", {}, c.domain), el("td", {}, c.country),
    el("td", {}, c.partners.join(", ")),
    el("td", { class: "num" }, c.subscriptions),
    el("td", {}, c.mcaAccepted ? "accepted" : "—"),
    el("td", {}, instant(c.createdAt)),
  )), "No customers yet.", 7);

  fill("transfers", data.transfers.map((x) => el("tr", { "data-transfer-id": x.id },
    el("td", { class: "id" }, x.id),
    el("td", {}, x.customerName || x.customerId),
    el("td", {}, `${x.sourcePartnerName} → ${x.targetPartnerName}`),
    el("td", {}, badge(x.status, `st-${x.status.toLowerCase()}`)),
    el("td", { class: "num" }, x.lines),
    el("td", { title: x.expiresAt }, x.status === "Pending"
      ? `in ${left(x.secondsLeft)}` : instant(x.expiresAt)),
  )), "No transfers.", 6);

  fill("partners", data.partners.map((p) => el("tr", {},
    el("td", { title: p.tenantId }, p.name), el("td", {}, p.kind.replaceAll("_", " ")),
    el("td", {}, p.mpnId), el("td", {}, p.country), el("td", {}, p.mpaSigned ? "signed" : "—"),
  )), "No partners.", 5);

  fill("faults", data.faults.map((f) => el("tr", { "data-fault-id": f.id },
    el("td", {}, f.id),
    el("td", {}, `${f.method || "any"} ${f.path || "any path"}`),
    el("td", {}, faultDoes(f)),
    el("td", { class: "num" }, f.fired),
    el("td", { class: "num" }, f.remaining === null || f.remaining === undefined ? "∞" : f.remaining),
  )), "None: every call is served.", 5);

  fill("requests", data.requests.map((r) => el("tr", {},
    el("td", { class: "nowrap" }, instant(r.at)), el("td", {}, r.method),
    el("td", { class: "path" }, r.path),
    el("td", { class: `num code-${String(r.status)[0]}xx` }, r.status),
    el("td", { class: "id nowrap" }, r.msRequestId || "—"),
  )), "No /v1 calls yet.", 5);
}

function faultDoes(f) {
  const parts = [];
  if (f.status) parts.push(f.code ? `${f.status} / ${f.code}` : String(f.status));
  if (f.retryAfter !== null && f.retryAfter !== undefined) parts.push(`Retry-After ${f.retryAfter}`);
  if (f.latencyMs) parts.push(`+${f.latencyMs} ms`);
  if (f.reset) parts.push("drops the connection");
  if (f.resetAfter) parts.push("serves, then drops");
  if (f.body !== null && f.body !== undefined) parts.push("fixed body");
  if (f.probability !== null && f.probability !== undefined && f.probability < 1) {
    parts.push(`p=${f.probability}`);
  }
  return parts.join(", ");
}

function showEvents(before, result) {
  $("happened").hidden = false;
  $("happened-span").textContent = `${instant(before)} → ${instant(result.now)}`;
  const items = result.events.map((e) => el("li", {},
    el("span", { class: "when" }, instant(e.at)), " ", el("strong", {}, e.type), " ",
    el("span", { class: "id" }, e.resourceUri)));
  if (!items.length) items.push(el("li", { class: "muted" }, "Nothing fell due."));
  $("events").replaceChildren(...items);
}

// -- actions ------------------------------------------------------------------------------------

async function load() {
  try {
    render(await api("GET", `/_sim/ui/data?limit=${LIMIT}`));
    if (loadFailed) say("");  // only what a failed read said: an advance's refusal stays
    loadFailed = false;
  } catch (error) {
    loadFailed = true;
    problem(error);
  }
}

async function advance(by) {
  if (busy) return;
  busy = true;
  for (const b of document.querySelectorAll("button")) b.disabled = true;
  const before = $("now").getAttribute("datetime");
  try {
    const result = await api("POST", "/_sim/clock/advance", { by });
    showEvents(before, result);
    say("");
  } catch (error) {
    problem(error);
  } finally {
    busy = false;
    for (const b of document.querySelectorAll("button")) b.disabled = false;
  }
  await load();
}

function start() {
  keyFromAddress();
  $("key").value = key();
  for (const button of document.querySelectorAll("button[data-by]")) {
    button.addEventListener("click", () => advance(button.dataset.by));
  }
  $("custom").addEventListener("submit", (event) => {
    event.preventDefault();
    const by = $("custom-by").value.trim();
    if (by) advance(by);
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("key").value);
    load();
  });
  setInterval(() => {
    if ($("auto").checked && !busy && document.visibilityState === "visible") load();
  }, REFRESH_MS);
  load();
}

start();
