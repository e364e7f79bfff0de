// Supervisor wallboard: the snapshot once (on every WebSocket "ready"), then only the
// wallboard.updated events it is sent — no polling. Between events the page ticks its clocks (time
// in state, longest wait) from the timestamps it was given.
(function () {
  "use strict";
  const { boot, t, esc, api, Realtime } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  const REASONS = ["break", "lunch", "training", "meeting", "coaching", "other"];
  const canManage = boot.user && ["admin", "manager", "supervisor"].includes(boot.user.role);
  let board = null;
  let skew = 0; // server clock − browser clock, in ms

  const now = () => Date.now() + skew;
  const pct = (x) => (x == null ? "—" : Math.round(x * 1000) / 10 + "%");
  const secs = (x) => (x == null ? "—" : clock(x * 1000));

  function clock(ms) {
    if (ms == null || isNaN(ms)) return "—";
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }

  // Amber/red per the queue's thresholds; for service level lower is worse.
  function level(value, limits, lowerIsWorse) {
    if (value == null || !limits) return "";
    const worse = (a, b) => (lowerIsWorse ? a <= b : a >= b);
    if (worse(value, limits.red)) return "red";
    if (worse(value, limits.amber)) return "amber";
    return "";
  }

  function queueName(q) { return boot.lang === "ja" && q.name_ja ? q.name_ja : q.name; }

  function states(a) {
    const reasons = Object.entries(a.break_reasons || {})
      .map(([r, n]) => esc(t("reason." + r)) + " " + n).join(", ");
    return '<span class="pill state-available">' + esc(t("state.available")) + " " + a.available + "</span> " +
      '<span class="pill state-busy">' + esc(t("state.busy")) + " " + a.busy + "</span> " +
      '<span class="pill state-wrap_up">' + esc(t("state.wrap_up")) + " " + a.wrap_up + "</span> " +
      '<span class="pill state-break">' + esc(t("state.break")) + " " + a.break + (reasons ? " (" + reasons + ")" : "") +
      "</span> " + '<span class="pill">' + esc(t("state.offline")) + " " + a.offline + "</span>";
  }

  function tile(q, name, thresholds, extra) {
    const th = thresholds || {};
    const waitLevel = level(q.waiting, th.waiting, false);
    return '<article class="tile" ' + extra + "><h3>" + esc(name) + "</h3><dl>" +
      '<div class="' + waitLevel + '"><dt>' + esc(t("wallboard.waiting")) + '</dt><dd class="waiting">' + q.waiting + "</dd></div>" +
      '<div data-longest="' + esc(q.oldest_enqueued_at || "") + '" data-limits="' + esc(JSON.stringify(th.longest_wait_s || null)) +
      '"><dt>' + esc(t("wallboard.longest_wait")) + '</dt><dd class="longest">—</dd></div>' +
      "<div><dt>" + esc(t("wallboard.offered")) + '</dt><dd class="offered">' + q.offered + "</dd></div>" +
      "<div><dt>" + esc(t("wallboard.handled")) + '</dt><dd class="handled">' + q.handled + "</dd></div>" +
      '<div class="' + level(q.abandon_rate, th.abandon_rate, false) + '"><dt>' + esc(t("wallboard.abandoned")) +
      '</dt><dd class="abandoned">' + q.abandoned + "</dd></div>" +
      '<div class="' + level(q.service_level, th.service_level, true) + '"><dt>' + esc(t("wallboard.service_level")) +
      '</dt><dd class="service-level">' + pct(q.service_level) + "</dd></div>" +
      '<div class="' + level(q.asa_s, th.asa_s, false) + '"><dt>' + esc(t("wallboard.asa")) + "</dt><dd>" + secs(q.asa_s) + "</dd></div>" +
      '<div class="' + level(q.aht_s, th.aht_s, false) + '"><dt>' + esc(t("wallboard.aht")) + "</dt><dd>" + secs(q.aht_s) + "</dd></div>" +
      '</dl><p class="agents-by-state">' + states(q.agents) + "</p></article>";
  }

  function renderQueues() {
    const overall = tile(board.overall, t("wallboard.overall"), null, 'data-queue-id="all"');
    $("queue-tiles").innerHTML = overall + board.queues.map((q) =>
      tile(q, queueName(q), q.thresholds, 'data-queue-id="' + q.queue_id + '" title="' +
        esc(q.definition ? q.definition[boot.lang] || q.definition.en : "") + '"')).join("");
  }

  function stateSelect(a) {
    if (!canManage) return "";
    const options = ['<option value="">—</option>', '<option value="available">' + esc(t("state.available")) + "</option>"]
      .concat(REASONS.map((r) => '<option value="break:' + r + '">' + esc(t("state.break")) + " · " + esc(t("reason." + r)) + "</option>"))
      .concat(['<option value="offline">' + esc(t("state.offline")) + "</option>"]);
    return '<select class="set-state" data-id="' + a.agent_id + '" aria-label="' + esc(t("wallboard.set_state")) + '">' +
      options.join("") + "</select>";
  }

  function renderAgents() {
    $("agents").innerHTML = board.agents.map((a) => '<tr data-agent-id="' + a.agent_id + '"><td>' + esc(a.name) +
      '</td><td><span class="pill state-' + esc(a.state) + '">' + esc(t("state." + a.state)) +
      (a.reason ? " · " + esc(t("reason." + a.reason)) : "") + '</span></td><td class="num" data-since="' + esc(a.since || "") +
      '">—</td><td>' + a.contacts.map((id) => '<a href="#" class="open-contact" data-id="' + id + '">#' + id + "</a>").join(" ") +
      '</td><td class="num handled">' + a.handled + '</td><td class="num">' + secs(a.aht_s) + '</td><td class="num">' +
      pct(a.occupancy) + "</td><td>" + stateSelect(a) + "</td></tr>").join("");
  }

  function renderContacts() {
    const queues = new Map(board.queues.map((q) => [q.queue_id, queueName(q)]));
    const agents = new Map(board.agents.map((a) => [a.agent_id, a.name]));
    $("open-contacts").innerHTML = board.contacts.map((c) => '<tr data-contact-id="' + c.contact_id + '"><td>#' + c.contact_id +
      "</td><td>" + esc(t("channel." + c.channel)) + '</td><td><span class="pill state-' + esc(c.state) + '">' +
      esc(t("contact.state." + c.state)) + "</span></td><td>" + esc(queues.get(c.queue_id) || "") + "</td><td>" +
      esc(agents.get(c.agent_id) || "") + '</td><td class="num" data-since="' +
      esc(c.state === "queued" || c.state === "offered" ? c.enqueued_at || c.created_at : "") + '">—</td><td>' +
      '<button type="button" class="secondary open-contact" data-id="' + c.contact_id + '">' + esc(t("wallboard.open")) +
      "</button></td></tr>").join("");
  }

  function render() {
    if (!board) return;
    $("board-day").textContent = board.day + " · " + board.timezone;
    renderQueues();
    renderAgents();
    renderContacts();
    tick();
  }

  function tick() {
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = el.dataset.since ? clock(now() - Date.parse(el.dataset.since)) : "—";
    });
    document.querySelectorAll("[data-longest]").forEach((el) => {
      const since = el.dataset.longest;
      const waited = since ? (now() - Date.parse(since)) / 1000 : null;
      el.querySelector(".longest").textContent = waited == null ? "—" : clock(waited * 1000);
      el.className = level(waited, JSON.parse(el.dataset.limits || "null"), false);
    });
  }

  function apply(change) {
    board.now = change.now;
    board.day = change.day;
    skew = Date.parse(change.now) - Date.now();
    if (change.overall) board.overall = change.overall;
    for (const [name, key] of [["queues", "queue_id"], ["agents", "agent_id"], ["contacts", "contact_id"]]) {
      const items = new Map(board[name].map((item) => [item[key], item]));
      for (const item of change[name] || []) items.set(item[key], item);
      for (const gone of change["removed_" + name] || []) items.delete(gone);
      board[name] = Array.from(items.values()).sort((a, b) => a[key] - b[key]);
    }
  }

  async function load() {
    board = await api("GET", "/api/v1/reports/wallboard");
    skew = Date.parse(board.now) - Date.now();
    render();
  }

  async function openContact(id) {
    const detail = await api("GET", "/api/v1/contacts/" + id);
    const c = detail.contact;
    $("contact-title").textContent = t("wallboard.transcript", { id: c.id });
    $("contact-meta").textContent = [t("channel." + c.channel_kind), t("contact.state." + c.state),
      detail.customer ? detail.customer.display_name || "" : ""].filter(Boolean).join(" · ");
    $("contact-messages").innerHTML = detail.messages.map((m) => '<li class="msg ' + esc(m.author_kind) + " " + esc(m.kind) +
      '"><span class="meta">' + esc(m.author_kind) + " · " + esc(new Date(m.created_at).toLocaleTimeString()) + "</span><br>" +
      esc(m.kind === "system" ? t(m.body) : m.body) + "</li>").join("");
    $("contact-view").dataset.id = id;
    $("contact-view").classList.remove("hidden");
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest(".open-contact");
    if (link) {
      event.preventDefault();
      openContact(link.dataset.id).catch((e) => alert(e.message));
    }
  });
  document.addEventListener("change", async (event) => {
    const select = event.target.closest(".set-state");
    if (!select || !select.value) return;
    const [state, reason] = select.value.split(":");
    await api("PUT", "/api/v1/agents/" + select.dataset.id + "/state", { state, reason: reason || null })
      .catch((e) => alert(e.message));
    select.value = "";
  });
  $("contact-close").addEventListener("click", () => $("contact-view").classList.add("hidden"));
  $("contact-refresh").addEventListener("click", () => openContact($("contact-view").dataset.id).catch(console.error));
  setInterval(tick, 1000); // the page's own clocks; nothing is fetched

  new Realtime("/ws", (frame) => {
    if (frame.type === "wallboard.updated" && board) {
      apply(frame.data);
      render();
    }
  }, {
    onStatus: (up) => $("conn-banner").classList.toggle("hidden", up),
    onReady: () => load().catch(console.error),
  });
})();
