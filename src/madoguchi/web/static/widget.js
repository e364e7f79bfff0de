// Madoguchi chat widget. Embed with:
//   <script src="https://HOST/widget.js" data-key="PUBLIC_KEY" async></script>
// Optional: data-lang="ja|en", data-identifier + data-signature (HMAC-SHA256 hex of the identifier
// with the entry point's secret, computed by the site's server) for a verified customer identity.
(function () {
  "use strict";
  const script = document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!script) return;
  const base = new URL(script.src, location.href);
  const origin = base.origin;
  const key = script.dataset.key;
  const all = window.MadoguchiStrings || { en: {}, ja: {} };
  const browserLang = (navigator.language || "en").slice(0, 2).toLowerCase();
  const lang = script.dataset.lang === "ja" || script.dataset.lang === "en" ? script.dataset.lang : (browserLang === "ja" ? "ja" : "en");
  const store = { prefix: "madoguchi." + key + "." };
  store.get = (name) => { try { return localStorage.getItem(store.prefix + name); } catch (e) { return null; } };
  store.set = (name, value) => { try { if (value == null) localStorage.removeItem(store.prefix + name); else localStorage.setItem(store.prefix + name, String(value)); } catch (e) { /* private mode */ } };

  function t(name, values) {
    let text = (all[lang] && all[lang][name]) || (all.en && all.en[name]) || name;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  function uid() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 12); }

  const host = document.createElement("div");
  host.id = "madoguchi-widget";
  document.body.appendChild(host);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
  <style>
    :host { all: initial; font-family: system-ui, "Hiragino Sans", "Noto Sans JP", sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; background: #2f5d50; color: #fff;
      border: 0; border-radius: 24px; padding: 12px 20px; font-size: 15px; cursor: pointer; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
    .panel { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 340px; max-width: calc(100vw - 40px);
      height: 480px; max-height: calc(100vh - 100px); background: #fff; border-radius: 12px; box-shadow: 0 4px 24px rgba(0,0,0,.25);
      display: flex; flex-direction: column; overflow: hidden; font-size: 14px; color: #222; }
    .hidden { display: none !important; }
    header { background: #2f5d50; color: #fff; padding: 10px 14px; display: flex; justify-content: space-between; align-items: center; }
    header button { background: transparent; color: #fff; border: 0; cursor: pointer; font-size: 13px; }
    form.prechat { padding: 14px; display: flex; flex-direction: column; gap: 8px; }
    input, textarea { font: inherit; padding: 8px; border: 1px solid #ccc; border-radius: 6px; }
    button.primary { background: #2f5d50; color: #fff; border: 0; border-radius: 6px; padding: 8px 12px; cursor: pointer; font: inherit; }
    .log { flex: 1; overflow-y: auto; padding: 10px; margin: 0; list-style: none; background: #f6f6f3; }
    .log li { margin: 6px 0; max-width: 85%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
    .log li.customer { margin-left: auto; background: #2f5d50; color: #fff; }
    .log li.agent { background: #fff; border: 1px solid #e2e2dc; }
    .log li.bot { background: #eef5f1; border: 1px solid #cfe0d8; }
    .choices { display: flex; flex-wrap: wrap; gap: 6px; padding: 4px 10px; }
    .choices button { background: #fff; color: #2f5d50; border: 1px solid #2f5d50; border-radius: 14px; padding: 5px 10px;
      cursor: pointer; font: inherit; font-size: 13px; }
    .log li.system { background: transparent; color: #666; font-size: 12px; text-align: center; max-width: 100%; }
    .log li.pending { opacity: .6; }
    .who { display: block; font-size: 11px; opacity: .75; }
    .status { font-size: 12px; color: #666; padding: 2px 10px; min-height: 16px; }
    .csat { padding: 6px 10px; border-top: 1px solid #eee; font-size: 13px; }
    .csat .scores { display: flex; gap: 6px; margin-top: 6px; align-items: center; }
    .csat .scores button { background: #fff; color: #2f5d50; border: 1px solid #2f5d50; border-radius: 6px; width: 34px;
      padding: 5px 0; cursor: pointer; font: inherit; }
    .csat .scale { font-size: 11px; color: #666; }
    form.compose { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #eee; }
    form.compose textarea { flex: 1; resize: none; height: 38px; }
  </style>
  <button class="launcher" id="launcher" type="button"></button>
  <div class="panel hidden" id="panel" role="dialog">
    <header><strong id="title"></strong><span><button type="button" id="leave"></button> <button type="button" id="close"></button></span></header>
    <form class="prechat hidden" id="prechat">
      <p id="intro"></p>
      <input id="name" name="name" maxlength="120" autocomplete="name">
      <input id="email" name="email" type="email" maxlength="254" autocomplete="email">
      <button class="primary" type="submit" id="start"></button>
    </form>
    <div class="hidden" id="chat" style="display:flex;flex-direction:column;flex:1;min-height:0">
      <ol class="log" id="log" aria-live="polite"></ol>
      <div class="choices hidden" id="choices"></div>
      <div class="status" id="status"></div>
      <div class="csat hidden" id="csat" aria-live="polite"></div>
      <form class="compose" id="compose">
        <textarea id="input" maxlength="4000"></textarea>
        <button class="primary" type="submit" id="send"></button>
      </form>
    </div>
  </div>`;
  const $ = (id) => root.getElementById(id);
  $("launcher").textContent = t("widget.launcher");
  $("title").textContent = t("widget.title");
  $("close").textContent = t("widget.close");
  $("leave").textContent = t("widget.leave");
  $("intro").textContent = t("widget.prechat_intro");
  $("name").placeholder = t("widget.name");
  $("email").placeholder = t("widget.email");
  $("start").textContent = t("widget.start");
  $("input").placeholder = t("widget.placeholder");
  $("send").textContent = t("widget.send");

  let token = store.get("token");
  let session = null;
  let ws = null;
  let ready = false;
  let lastEventId = null;
  let retry = 500;
  const shown = new Set();
  let typingTimer = null;
  let lastTyping = 0;
  let statusNote = "";

  async function call(method, path, body) {
    const headers = { "content-type": "application/json" };
    if (token) headers["x-widget-token"] = token;
    const response = await fetch(origin + "/api/v1/widget" + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) { const err = new Error((data && data.message) || "HTTP " + response.status); err.status = response.status; throw err; }
    return data;
  }

  function setStatus(text) { $("status").textContent = text || statusNote; }

  // Live events name their author; messages restored from the session do not, so they fall back to
  // the agent handling the conversation.
  function agentName(message) {
    return message.author_name || (session && session.agent_name) || t("widget.agent");
  }

  function render(message) {
    const id = message.message_id ?? message.id;
    if (message.kind === "note") return;
    if (id != null && shown.has(id)) return;
    if (message.client_msg_id) {
      const pending = root.querySelector('li[data-client="' + message.client_msg_id + '"]');
      if (pending) { pending.classList.remove("pending"); pending.dataset.id = id; shown.add(id); return; }
    }
    if (id != null) shown.add(id);
    const li = document.createElement("li");
    li.className = message.author_kind + (id == null ? " pending" : "");
    if (id != null) li.dataset.id = id;
    if (message.client_msg_id) li.dataset.client = message.client_msg_id;
    if (message.author_kind === "system") {
      li.textContent = t(message.body, { agent: agentName(message) });
    } else {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = message.author_kind === "customer" ? t("widget.you")
        : message.author_kind === "bot" ? t("widget.bot") : agentName(message);
      li.appendChild(who);
      li.appendChild(document.createTextNode(message.body));
    }
    $("log").appendChild(li);
    $("log").scrollTop = $("log").scrollHeight;
  }

  // The bot's choices: buttons that send their label, as if the customer had typed it.
  function showChoices(prompt) {
    const box = $("choices");
    box.innerHTML = "";
    const choices = (prompt && prompt.choices) || [];
    for (const choice of choices) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.dataset.value = choice.value;
      button.textContent = choice.label;
      button.addEventListener("click", () => sendText(choice.label));
      box.appendChild(button);
    }
    box.classList.toggle("hidden", !choices.length);
  }

  // After a reload: the bot's pending choices, if it is waiting for one.
  async function loadPrompt() {
    if (!token) return;
    try { showChoices((await call("GET", "/prompt")).prompt); } catch (err) { /* the widget works without it */ }
  }

  // After a handled chat ends: "how satisfied were you?" 1–5, answered once (docs/reports.md).
  function showSurvey() {
    const box = $("csat");
    if (!box.classList.contains("hidden") || box.dataset.done) return;
    box.innerHTML = "";
    const question = document.createElement("div");
    question.textContent = t("widget.csat_question");
    const scores = document.createElement("div");
    scores.className = "scores";
    const low = document.createElement("span");
    low.className = "scale";
    low.textContent = t("widget.csat_low");
    scores.appendChild(low);
    for (let score = 1; score <= 5; score++) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "score";
      button.dataset.score = String(score);
      button.textContent = String(score);
      button.addEventListener("click", async () => {
        try { await call("POST", "/csat", { score }); } catch (err) { if (err.status !== 409) { setStatus(t("widget.error", { message: err.message })); return; } }
        box.dataset.done = "1";
        box.textContent = t("widget.csat_thanks");
      });
      scores.appendChild(button);
    }
    const high = document.createElement("span");
    high.className = "scale";
    high.textContent = t("widget.csat_high");
    scores.appendChild(high);
    box.appendChild(question);
    box.appendChild(scores);
    box.classList.remove("hidden");
  }

  function showChat() {
    $("prechat").classList.add("hidden");
    $("chat").classList.remove("hidden");
  }

  function applySession(data) {
    session = data;
    token = data.token;
    store.set("token", data.token);
    store.set("visitor", data.visitor_id);
    if (lastEventId == null) lastEventId = data.last_event_id;
    for (const m of data.messages) render(m);
    statusNote = data.contact_state === "queued" || data.contact_state === "offered" ? t("widget.waiting")
      : data.contact_state === "ended" || data.contact_state === "closed" ? t("widget.ended") : "";
    if (data.queue_position) statusNote = positionText(data.queue_position, data.estimated_wait_s);
    setStatus();
  }

  function positionText(position, waitS) {
    if (waitS == null) return t("widget.position", { position });
    return t("widget.position_wait", { position, minutes: Math.max(1, Math.round(waitS / 60)) });
  }

  function connect() {
    if (!token) return;
    const url = origin.replace(/^http/, "ws") + "/ws/widget?token=" + encodeURIComponent(token);
    ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify({ op: "hello", last_event_id: lastEventId, batch: true }));
    ws.onmessage = (event) => {
      const received = JSON.parse(event.data);
      for (const frame of received.op === "batch" ? received.frames : [received]) {
        if (frame.op === "ready") { ready = true; retry = 500; lastEventId = frame.last_event_id; setStatus(); flushQueue(); }
        else if (frame.op === "event") { if (frame.id != null) lastEventId = frame.id; onEvent(frame); }
        else if (frame.op === "error") { setStatus(t("widget.error", { message: frame.message })); }
      }
    };
    ws.onclose = (event) => {
      ready = false;
      if (event.code === 4401) { token = null; store.set("token", null); return; }
      setStatus(t("widget.offline"));
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 8000);
    };
  }

  function onEvent(frame) {
    const data = frame.data;
    if (frame.type === "message.created") {
      render(data);
      if (data.author_kind === "agent" || data.author_kind === "bot") { statusNote = ""; setStatus(); }
      if (data.author_kind === "customer") showChoices(null);
    } else if (frame.type === "flow.prompt") {
      showChoices(data);
    } else if (frame.type === "typing" && data.who === "agent") {
      setStatus(data.active ? t("widget.agent_typing") : "");
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => setStatus(), 4000);
    } else if (frame.type === "contact.changed") {
      statusNote = data.state === "queued" || data.state === "offered" ? t("widget.waiting")
        : data.state === "ended" || data.state === "closed" || data.state === "abandoned" ? t("widget.ended") : "";
      setStatus();
      if (data.state === "ended" && data.agent_id) showSurvey();
      if (data.state === "queued") { $("csat").classList.add("hidden"); delete $("csat").dataset.done; }
    } else if (frame.type === "queue.position") {
      statusNote = positionText(data.position, data.estimated_wait_s);
      setStatus();
    }
  }

  const queue = [];
  function flushQueue() {
    while (ready && queue.length) ws.send(JSON.stringify(queue.shift()));
  }

  async function ensureSession(form) {
    if (token && session) return;
    const body = { public_key: key, language: lang, visitor_id: store.get("visitor") || undefined };
    if (form) { body.name = $("name").value || null; body.email = $("email").value || null; }
    if (script.dataset.identifier && script.dataset.signature) {
      body.identity = { identifier: script.dataset.identifier, signature: script.dataset.signature };
    }
    token = null;
    applySession(await call("POST", "/sessions", body));
    connect();
  }

  $("launcher").addEventListener("click", async () => {
    const panel = $("panel");
    panel.classList.toggle("hidden");
    store.set("open", panel.classList.contains("hidden") ? null : "1");
    if (!panel.classList.contains("hidden") && !session) $("prechat").classList.remove("hidden");
  });
  $("close").addEventListener("click", () => { $("panel").classList.add("hidden"); store.set("open", null); });
  $("prechat").addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await ensureSession(true); showChat(); $("input").focus(); }
    catch (err) { $("intro").textContent = t("widget.error", { message: err.message }); }
  });
  $("compose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("input").value.trim();
    if (!text) return;
    $("input").value = "";
    await sendText(text);
  });
  async function sendText(text) {
    showChoices(null);
    const clientId = uid();
    render({ id: null, author_kind: "customer", body: text, client_msg_id: clientId, kind: "text" });
    statusNote = session && session.contact_state ? statusNote : t("widget.waiting");
    setStatus();
    lastTyping = 0;  // the agent's indicator went with this message: the next keystroke shows it again
    const op = { op: "message.send", body: text, client_msg_id: clientId, ref: clientId };
    if (ready) ws.send(JSON.stringify(op));
    else {
      try { render(await call("POST", "/messages", { body: text, client_msg_id: clientId })); }
      catch (err) { queue.push(op); }
    }
  }
  $("input").addEventListener("input", () => {
    if (!ready || Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    ws.send(JSON.stringify({ op: "typing", active: true }));
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("compose").requestSubmit(); }
  });
  $("leave").addEventListener("click", async () => {
    if (!token) return;
    try { await call("POST", "/leave"); statusNote = t("widget.ended"); setStatus(); } catch (err) { setStatus(t("widget.error", { message: err.message })); }
  });

  // Reloading the page keeps the conversation: the token in localStorage restores the session.
  (async () => {
    if (token) {
      try {
        applySession(await call("GET", "/session"));
        showChat();
        connect();
        loadPrompt();
        if (store.get("open")) $("panel").classList.remove("hidden");
      } catch (err) {
        token = null; session = null; store.set("token", null);
      }
    }
  })();
})();
