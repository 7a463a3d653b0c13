// The dashboard: connect form, subscriptions, live message table and rate chart, publish form,
// connection log, and the session panel (in-flight and queued messages, from the client or, while
// not connected, read from IndexedDB). Uses the built package served at ./pkg/.

import init, { MqttClient } from "./pkg/mq.js";
import { RateChart } from "./chart.js";
import { formatPayload, clock } from "./format.js";

const $ = (id) => document.getElementById(id);
const SETTINGS = "mq-dashboard:settings";
const AUTO = "mq-dashboard:autoconnect"; // set while the user wants to be connected
const MAX_ROWS = 1000;
const RETRY_MS = 2000;

let client = null;
let connecting = false;
let retryTimer = null;
let defaultUrl = "ws://127.0.0.1:9001";
const subscriptions = new Map(); // filter -> granted QoS
const messages = []; // newest first: { t, topic, qos, retain, dup, payload }
const chart = new RateChart($("chart"), $("rate"));

// ---- small helpers ----

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

function log(text, kind = "") {
  const li = el("li", { className: kind, textContent: `${clock(Date.now())}  ${text}` });
  $("log").prepend(li);
  while ($("log").children.length > 200) $("log").lastChild.remove();
}

function describe(e) {
  return e && e.code ? `${e.code}: ${e.message}` : String(e);
}

function setState(state, label = state) {
  const s = $("state");
  s.className = `state state-${state}`;
  s.dataset.state = state;
  s.textContent = label;
  const live = client !== null;
  $("connect").disabled = live || connecting;
  $("disconnect").disabled = !live && retryTimer === null && !connecting;
  $("subscribe").disabled = !live;
  $("publish").disabled = !live;
  $("clear-session").disabled = live || connecting;
  for (const id of ["url", "client-id", "clean", "keepalive", "username", "password"]) {
    $(id).disabled = live || connecting;
  }
}

// ---- settings (never the password) ----

function readForm() {
  return {
    url: $("url").value.trim(),
    clientId: $("client-id").value.trim(),
    clean: $("clean").checked,
    keepalive: Number($("keepalive").value || 0),
    username: $("username").value,
    defaultUrl,
  };
}

function loadSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS) || "{}");
  } catch {
    saved = {};
  }
  const params = new URLSearchParams(location.search);
  // A saved URL that was only the default follows the default when the broker moved.
  let url = saved.url && !(saved.url === saved.defaultUrl && saved.defaultUrl !== defaultUrl) ? saved.url : defaultUrl;
  url = params.get("broker") || url;
  $("url").value = url;
  $("client-id").value = saved.clientId || `dashboard-${Math.random().toString(16).slice(2, 8)}`;
  $("clean").checked = saved.clean === true;
  $("keepalive").value = saved.keepalive ?? 60;
  $("username").value = saved.username || "";
}

// ---- connection ----

async function connect({ auto = false } = {}) {
  if (client || connecting) return;
  clearTimeout(retryTimer);
  retryTimer = null;
  const s = readForm();
  localStorage.setItem(SETTINGS, JSON.stringify(s));
  localStorage.setItem(AUTO, "1");
  const options = { clientId: s.clientId, clean: s.clean, keepalive: s.keepalive, reconnect: { minDelay: 1000, maxDelay: 10000 } };
  // A kept session is shared by every tab of the dashboard with this client id: one connection.
  if (!s.clean) options.share = "tabs";
  if (s.username) options.username = s.username;
  if ($("password").value) options.password = $("password").value;
  connecting = true;
  setState("connecting");
  log(`connecting to ${s.url} as ${s.clientId}${s.clean ? " (clean session)" : " (persistent session)"}`);
  let c;
  try {
    c = await MqttClient.connect(s.url, options);
  } catch (e) {
    connecting = false;
    log(`connect failed: ${describe(e)}`, "error");
    // After a reload (or while the user wants to be connected) keep trying; a refusal that
    // retrying cannot heal (bad credentials) stops here.
    if (localStorage.getItem(AUTO) === "1" && (auto || e.code === "CONNECTION_FAILED" || e.code === "TIMEOUT") && e.code !== "CONNECT_REFUSED") {
      retryTimer = setTimeout(() => connect({ auto: true }), RETRY_MS);
      log(`retrying in ${RETRY_MS / 1000} s`);
      setState("reconnecting", "waiting to retry");
    } else {
      setState("failed", "connect failed");
    }
    await showStoredSession();
    return;
  }
  connecting = false;
  client = c;
  wire(c);
  setState("connected");
  log(`connected to ${s.url}${shareNote(c)}`, "good");
  const restored = c.restored;
  if (restored.length) log(`session restored from IndexedDB: ${restored.length} pending request(s) resumed`, "good");
  subscriptions.clear();
  // A tab sharing the connection gets the messages of its own subscriptions: it takes the
  // session's (no SUBSCRIBE goes out for a filter the session already has).
  const session = c.role === "follower" ? await MqttClient.storedSession(s.url, s.clientId).catch(() => null) : c.session();
  for (const { topic, qos } of session ? session.subscriptions : []) subscriptions.set(topic, qos);
  if (c.role === "leader" || c.role === "follower") {
    for (const [topic, qos] of subscriptions) {
      if (qos !== 128) await c.subscribe(topic, { qos }).catch((e) => log(`subscribe ${topic} failed: ${describe(e)}`, "error"));
    }
  }
  if (subscriptions.size) log(`subscriptions restored: ${[...subscriptions.keys()].join(", ")}`);
  renderSubscriptions();
  refreshSession();
}

/** How this tab holds its connection, for the log. */
function shareNote(c) {
  if (c.role === "leader") return " (this tab holds the connection the dashboard's tabs share)";
  if (c.role === "follower") return " (through another tab's connection: this tab follows)";
  return "";
}

function wire(c) {
  c.on("message", (topic, payload, { qos, retain, dup }) => addMessage({ t: Date.now(), topic, payload, qos, retain, dup }));
  c.on("connect", ({ sessionPresent }) => {
    setState("connected");
    log(`connected again (session present: ${sessionPresent})${shareNote(c)}`, "good");
    refreshSession();
  });
  c.on("reconnect", () => {
    setState("reconnecting");
    log("reconnecting…");
  });
  // "close" comes with every connection that ends; "offline" follows in the same turn when the
  // client will reconnect. A "close" alone means the client is closed for good.
  let offlineSeen = false;
  c.on("offline", () => {
    offlineSeen = true;
    setState("offline");
    log("offline: connection lost", "error");
  });
  c.on("close", () => {
    offlineSeen = false;
    log("connection closed");
    setTimeout(() => {
      if (offlineSeen || client !== c) return;
      client = null;
      setState("closed");
      log("the client is closed");
      showStoredSession();
    }, 0);
  });
  c.on("error", (e) => log(`error ${describe(e)}`, "error"));
  c.on("restored", (r) => {
    log(`restored request #${r.id} completed (QoS ${r.qos}${r.topic ? ` ${r.topic}` : ""})`, "good");
    refreshSession();
  });
}

async function disconnect() {
  localStorage.removeItem(AUTO);
  clearTimeout(retryTimer);
  retryTimer = null;
  const c = client;
  if (!c) {
    setState("disconnected");
    return;
  }
  client = null;
  await c.end();
  setState("disconnected");
  log("disconnected");
  await showStoredSession();
}

// ---- subscriptions ----

function renderSubscriptions() {
  const body = $("subscriptions").tBodies[0];
  body.replaceChildren();
  if (!subscriptions.size) body.append(el("tr", { className: "empty" }, el("td", { colSpan: 3, textContent: "none" })));
  for (const [filter, qos] of subscriptions) {
    const remove = el("button", { type: "button", className: "link", textContent: "remove", title: `unsubscribe ${filter}` });
    remove.onclick = () => unsubscribe(filter);
    body.append(el("tr", {}, el("td", { className: "topic", textContent: filter }),
      el("td", { textContent: qos === 128 ? "refused (128)" : String(qos) }), el("td", {}, remove)));
  }
}

async function subscribe(filter, qos) {
  if (!client) return;
  try {
    const granted = await client.subscribe(filter, { qos });
    for (const g of granted) {
      subscriptions.set(g.topic, g.qos);
      log(g.qos === 128 ? `subscription to ${g.topic} refused` : `subscribed to ${g.topic}, granted QoS ${g.qos}`, g.qos === 128 ? "error" : "");
    }
    renderSubscriptions();
  } catch (e) {
    log(`subscribe ${filter} failed: ${describe(e)}`, "error");
  }
}

async function unsubscribe(filter) {
  if (!client) return;
  try {
    await client.unsubscribe(filter);
    subscriptions.delete(filter);
    log(`unsubscribed from ${filter}`);
    renderSubscriptions();
  } catch (e) {
    log(`unsubscribe ${filter} failed: ${describe(e)}`, "error");
  }
}

// ---- messages ----

function messageRow(m, format) {
  return el("tr", {},
    el("td", { className: "time", textContent: clock(m.t) }),
    el("td", { className: "topic", textContent: m.topic }),
    el("td", { textContent: String(m.qos) + (m.dup ? " dup" : "") }),
    el("td", { textContent: m.retain ? "yes" : "" }),
    el("td", { className: "payload", textContent: formatPayload(m.payload, format) }));
}

function addMessage(m) {
  messages.unshift(m);
  if (messages.length > MAX_ROWS) messages.length = MAX_ROWS;
  chart.count(m.t);
  const body = $("messages").tBodies[0];
  body.prepend(messageRow(m, $("payload-format").value));
  while (body.rows.length > MAX_ROWS) body.lastChild.remove();
  $("message-count").textContent = String(chart.total);
}

function renderMessages() {
  const format = $("payload-format").value;
  $("messages").tBodies[0].replaceChildren(...messages.map((m) => messageRow(m, format)));
}

// ---- publish ----

async function publish() {
  if (!client) return;
  const topic = $("pub-topic").value.trim();
  const payload = $("pub-payload").value;
  const qos = Number($("pub-qos").value);
  const retain = $("pub-retain").checked;
  const result = $("publish-result");
  result.className = "muted";
  result.textContent = qos ? "in flight…" : "sending…";
  const p = client.publish(topic, payload, { qos, retain });
  refreshSession();
  try {
    await p;
    result.textContent = `published to ${topic}${qos ? ` (QoS ${qos}: ${qos === 1 ? "PUBACK" : "PUBCOMP"})` : ""}`;
  } catch (e) {
    result.className = "error";
    result.textContent = describe(e);
    log(`publish to ${topic} failed: ${describe(e)}`, "error");
  }
  refreshSession();
}

// ---- session panel ----

function renderSession(session, source) {
  $("session-source").textContent = source;
  const payloadText = (p) => (p ? formatPayload(p, "text") : "");
  const inflight = $("session-inflight").tBodies[0];
  inflight.replaceChildren(...session.inflight.map((r) => el("tr", {},
    el("td", { textContent: `#${r.id}` }), el("td", { textContent: String(r.pkid) }), el("td", { textContent: String(r.qos) }),
    el("td", { textContent: r.state === "released" ? "PUBREL pending" : "awaiting ack" }),
    el("td", { className: "topic", textContent: r.topic || "" }), el("td", { className: "payload", textContent: payloadText(r.payload) }))));
  if (!session.inflight.length) inflight.append(el("tr", { className: "empty" }, el("td", { colSpan: 6, textContent: "none" })));
  const queued = $("session-queued").tBodies[0];
  queued.replaceChildren(...session.queued.map((r) => el("tr", {},
    el("td", { textContent: `#${r.id}` }), el("td", { textContent: String(r.qos) }),
    el("td", { className: "topic", textContent: r.topic }), el("td", { className: "payload", textContent: payloadText(r.payload) }))));
  if (!session.queued.length) queued.append(el("tr", { className: "empty" }, el("td", { colSpan: 4, textContent: "none" })));
  $("inflight-count").textContent = String(session.inflight.length);
  $("queued-count").textContent = String(session.queued.length);
  const parts = [`${session.subscriptions.length} subscription(s)`];
  if (session.incoming.length) parts.push(`incoming QoS 2 awaiting PUBREL: ${session.incoming.join(", ")}`);
  if (client) {
    parts.push(`${client.restored.length} restored request(s) pending`);
    parts.push(`${client.bufferedAmount} bytes waiting to be sent`);
  }
  $("session-summary").textContent = parts.join(" · ");
}

function refreshSession() {
  if (!client) return;
  if (client.role === "follower") {
    // The leader tab holds the session: show what IndexedDB has.
    const { url, clientId } = readForm();
    const c = client;
    MqttClient.storedSession(url, clientId).then((stored) => {
      if (client === c) renderSession(stored, "(IndexedDB: mq-sessions, held by the leader tab)");
    }, () => {});
    return;
  }
  const clean = $("clean").checked;
  renderSession(client.session(), clean ? "(in memory: clean session)" : "(IndexedDB: mq-sessions)");
}

async function showStoredSession() {
  const { url, clientId } = readForm();
  if (!url || !clientId) return;
  try {
    const stored = await MqttClient.storedSession(url, clientId);
    if (client) return;
    renderSession(stored, "(stored in IndexedDB, not connected)");
    subscriptions.clear();
    for (const { topic, qos } of stored.subscriptions) subscriptions.set(topic, qos);
    renderSubscriptions();
  } catch (e) {
    $("session-summary").textContent = `cannot read the stored session: ${describe(e)}`;
  }
}

async function clearStoredSession() {
  const { url, clientId } = readForm();
  try {
    await MqttClient.clearSession(url, clientId);
    log(`deleted the stored session of ${clientId}`);
  } catch (e) {
    log(`cannot delete the stored session: ${describe(e)}`, "error");
  }
  await showStoredSession();
}

// ---- start ----

async function main() {
  await init();
  try {
    const config = await (await fetch("./config.json", { cache: "no-store" })).json();
    if (config.broker) defaultUrl = config.broker;
  } catch {
    // served without config.json: keep the default
  }
  loadSettings();
  renderSubscriptions();
  setState("disconnected");
  $("connect-form").onsubmit = (e) => {
    e.preventDefault();
    connect();
  };
  $("disconnect").onclick = disconnect;
  $("subscribe-form").onsubmit = (e) => {
    e.preventDefault();
    subscribe($("sub-topic").value.trim(), Number($("sub-qos").value));
  };
  $("publish-form").onsubmit = (e) => {
    e.preventDefault();
    publish();
  };
  $("payload-format").onchange = renderMessages;
  $("clear-messages").onclick = () => {
    messages.length = 0;
    renderMessages();
  };
  $("clear-session").onclick = clearStoredSession;
  for (const id of ["url", "client-id"]) $(id).addEventListener("change", showStoredSession);
  setInterval(refreshSession, 500);
  await showStoredSession();
  if (localStorage.getItem(AUTO) === "1") {
    log("reconnecting the session of the previous page load");
    await connect({ auto: true });
  }
  document.body.dataset.ready = "1";
}

// For tests and the console.
window.mqDashboard = { get client() { return client; }, messages, subscriptions };

main().catch((e) => {
  log(`the dashboard failed to start: ${describe(e)}`, "error");
  console.error(e);
});
