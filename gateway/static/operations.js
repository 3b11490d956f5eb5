// The gateway's operations view: reads GET /v1/operations, retries with
// POST /v1/operations/{id}/retry. The API key stays in this tab's sessionStorage and goes out as
// `Authorization: Bearer`; every value from the server goes into the page as text, never markup.
"use strict";

const KEY_STORE = "pcgw.apiKey";
const REFRESH_MS = 3000;
const PAGE = 50;

const $ = (id) => document.getElementById(id);
const view = { status: "", kind: "", shown: PAGE, cursor: null, loading: false };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "title") node.title = value;
    else node.setAttribute(name, value === true ? "" : value);
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

class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `HTTP ${status}`;
    super(body && body.field ? `${message} (${body.field})` : message);
    this.status = status;
    this.correlationId = body && body.correlationId;
  }
}

async function api(method, path) {
  const headers = { Accept: "application/json" };
  if (key()) headers.Authorization = `Bearer ${key()}`;
  const resp = await fetch(path, { method, headers, cache: "no-store" });
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

function say(text, kind) {
  const box = $("message");
  box.textContent = text || "";
  box.className = kind || "";
  box.hidden = !text;
}

function needsKey(why) {
  $("needs-key").hidden = !why;
  $("needs-key-why").textContent = why || "";
  if (why) {
    $("list").replaceChildren();
    $("more").hidden = true;
    $("key").focus();
  }
}

// -- formatting ---------------------------------------------------------------------------------

function instant(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind || ""}` }, text.replaceAll("_", " "));
}

// Only web addresses become links: a value such as "javascript:…" stays plain text.
function safeLink(url, text) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") {
      return el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer" }, text);
    }
  } catch (_) {
    // not a URL: shown as text below
  }
  return document.createTextNode(url);
}

// The journal's rule (adapters/storage): a dead-lettered operation, or one that failed because
// Partner Center stayed unavailable. Any other failure is Microsoft's answer and would come back.
function retryable(op) {
  return op.status === "dead_letter" ||
    (op.status === "failed" && op.error && op.error.reason === "unavailable");
}

// -- rendering ----------------------------------------------------------------------------------

function stepsTable(steps) {
  if (!steps.length) return el("p", { class: "muted" }, "No step has started yet.");
  return el("table", { class: "steps" },
    el("thead", {}, el("tr", {}, ...["Step", "Status", "Attempts", "Started", "Finished",
      "MS-RequestId"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...steps.map((s) => el("tr", { "data-step": s.name },
      el("td", {}, s.name.replaceAll("_", " ")),
      el("td", {}, badge(s.status, `st-${s.status}`)),
      el("td", { class: "num" }, s.attempts),
      el("td", {}, instant(s.startedAt)),
      el("td", {}, instant(s.finishedAt)),
      el("td", { class: "id" }, s.msRequestId)))));
}

function errorBlock(error) {
  const pc = [];
  if (error.partnerCenterStatus) pc.push(`HTTP ${error.partnerCenterStatus}`);
  if (error.partnerCenterCode) pc.push(`code ${error.partnerCenterCode}`);
  return el("div", { class: "error" },
    el("strong", {}, error.step ? `Failed at ${error.step.replaceAll("_", " ")}: ` : "Failed: "),
    error.message,
    pc.length || error.partnerCenterDescription
      ? el("div", { class: "pc" }, "Partner Center: ", pc.join(", "),
        error.partnerCenterDescription ? ` — ${error.partnerCenterDescription}` : "")
      : null);
}

function actionBlock(action) {
  return el("div", { class: "action" },
    el("strong", {}, "Action required: "), action.message,
    action.url ? el("div", {}, safeLink(action.url, "Open the link to act")) : null,
    action.expiresAt ? el("div", { class: "muted" }, `Expires ${instant(action.expiresAt)}`) : null);
}

// Who the operation is for, from its request, in a few words (every kind names it differently).
function summary(request) {
  const r = request || {};
  const parts = [];
  const customer = r.customer || {};
  if (customer.newTenant && customer.newTenant.domainPrefix) {
    parts.push(`new tenant ${customer.newTenant.domainPrefix}.onmicrosoft.com`);
  } else if (customer.existingTenant && customer.existingTenant.domain) {
    parts.push(customer.existingTenant.domain);
  } else if (r.customerId) {
    parts.push(`customer ${r.customerId}`);
  }
  if (r.subscriptionId) parts.push(`subscription ${r.subscriptionId}`);
  if (Array.isArray(r.lines)) {
    const seats = r.lines.reduce((n, l) => n + (Number(l.quantity) || 0), 0);
    parts.push(`${r.lines.length} line(s), ${seats} seat(s)`);
  }
  return parts.join(" · ");
}

function operationCard(op) {
  const canRetry = retryable(op);
  const offersRetry = op.status === "failed" || op.status === "dead_letter";
  const retry = offersRetry
    ? el("button", {
      type: "button", class: "retry", "data-retry": op.id, disabled: !canRetry,
      title: canRetry ? "Run it again from the step that stopped, with the same MS-RequestId"
        : "Only a dead-lettered operation, or one Partner Center's absence failed, can be " +
          "retried: this failure is Partner Center's answer and would come back",
    }, "Retry")
    : null;
  const result = Object.keys(op.result || {}).length
    ? el("details", {}, el("summary", {}, "Result"), el("pre", {}, JSON.stringify(op.result, null, 2)))
    : null;
  return el("article", { class: `op st-${op.status}`, "data-op-id": op.id, "data-status": op.status },
    el("header", {},
      el("span", { class: "kind" }, op.kind.replaceAll("_", " ")),
      badge(op.status, `st-${op.status}`),
      el("span", { class: "id" }, op.id),
      el("span", { class: "for" }, summary(op.request)),
      el("span", { class: "when muted", title: `created ${op.createdAt}` },
        `updated ${instant(op.updatedAt)}`),
      retry),
    op.action ? actionBlock(op.action) : null,
    op.error ? errorBlock(op.error) : null,
    // A finished purchase's steps are history: folded away so the stuck ones stand out.
    op.status === "succeeded" && (op.steps || []).length
      ? el("details", { class: "steps-box" },
        el("summary", {}, `${op.steps.length} steps, all succeeded`), stepsTable(op.steps))
      : stepsTable(op.steps || []),
    result,
    el("details", {}, el("summary", {}, "Request"), el("pre", {}, JSON.stringify(op.request, null, 2))));
}

function render(items, nextCursor) {
  const cards = items.map(operationCard);
  if (!cards.length) {
    const what = view.status ? `No ${view.status.replaceAll("_", " ")} operations.` : "No operations yet.";
    cards.push(el("p", { class: "empty" }, what));
  }
  $("list").replaceChildren(...cards);
  view.cursor = nextCursor;
  $("more").hidden = !nextCursor;
}

// -- actions ------------------------------------------------------------------------------------

function query(limit, cursor) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (view.status) params.set("status", view.status);
  if (view.kind) params.set("kind", view.kind);
  if (cursor) params.set("cursor", cursor);
  return `/v1/operations?${params}`;
}

async function load() {
  if (view.loading) return;
  view.loading = true;
  try {
    const page = await api("GET", query(Math.min(view.shown, 200)));
    needsKey(null);
    render(page.items, page.nextCursor);
    if ($("message").className === "error") say("");
  } catch (error) {
    if (error.status === 401) needsKey(error.message);
    else say(error.message, "error");
  } finally {
    view.loading = false;
  }
}

async function loadMore() {
  if (!view.cursor || view.loading) return;
  view.loading = true;
  try {
    const page = await api("GET", query(PAGE, view.cursor));
    $("list").append(...page.items.map(operationCard));
    view.shown += page.items.length;
    view.cursor = page.nextCursor;
    $("more").hidden = !page.nextCursor;
  } catch (error) {
    say(error.message, "error");
  } finally {
    view.loading = false;
  }
}

async function retry(button) {
  const id = button.dataset.retry;
  button.disabled = true;
  try {
    const op = await api("POST", `/v1/operations/${encodeURIComponent(id)}/retry`);
    say(`Operation ${op.id} is ${op.status.replaceAll("_", " ")} again.`, "ok");
  } catch (error) {
    if (error.status === 401) needsKey(error.message);
    else say(error.message, "error");
    button.disabled = false;
  }
  await load();
}

function choose(status) {
  view.status = status;
  view.shown = PAGE;
  for (const b of document.querySelectorAll("#filters button")) {
    b.setAttribute("aria-pressed", String(b.dataset.status === status));
  }
  say("");
  load();
}

function start() {
  $("key").value = key();
  for (const b of document.querySelectorAll("#filters button")) {
    b.addEventListener("click", () => choose(b.dataset.status));
  }
  $("kind").addEventListener("change", () => {
    view.kind = $("kind").value;
    view.shown = PAGE;
    load();
  });
  $("list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-retry]");
    if (button && !button.disabled) retry(button);
  });
  $("more").addEventListener("click", loadMore);
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("key").value.trim();
    if (typed) sessionStorage.setItem(KEY_STORE, typed);
    else sessionStorage.removeItem(KEY_STORE);
    say("");
    load();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("key").value = "";
    load();
  });
  setInterval(() => {
    // Not while a details box is open: a refresh would close it under the reader's eyes.
    if ($("auto").checked && document.visibilityState === "visible" &&
        !document.querySelector("#list details[open]")) load();
  }, REFRESH_MS);
  load();
}

start();
