// Agent desktop: state, offers, my contacts, the conversation and the customer's screen pop.
(function () {
  "use strict";
  const { boot, t, esc, api, Realtime, fmtTime, uid } = window.Mdg;
  const me = boot.user.id;
  const OPEN = new Set(["offered", "active", "held", "ended"]);
  const offers = new Map();
  let contacts = [];
  let current = null;        // ContactDetail of the open conversation
  let shown = new Set();     // message ids rendered in the open conversation
  let dispositions = [];
  let typingTimer = null;
  let lastTypingSent = 0;
  const $ = (id) => document.getElementById(id);

  function showError(err) {
    $("desk-error").textContent = err ? t("desktop.error", { message: err.message }) : "";
  }

  function renderState(agent) {
    const el = $("my-state");
    el.dataset.state = agent.state;
    el.textContent = t("state." + agent.state) + (agent.break_reason ? " (" + t("reason." + agent.break_reason) + ")" : "");
  }

  async function loadMe() {
    renderState(await api("GET", "/api/v1/agents/me"));
  }

  document.querySelectorAll("[data-set-state]").forEach((button) => {
    button.addEventListener("click", async () => {
      const state = button.dataset.setState;
      const body = { state };
      if (state === "break") body.reason = $("break-reason").value;
      try {
        renderState(await api("PUT", "/api/v1/agents/me/state", body));
        showError(null);
      } catch (err) { showError(err); }
    });
  });

  // --- offers ---------------------------------------------------------------------------------
  function countdown(offer) {
    const left = Math.max(0, Math.round((new Date(offer.expires_at) - Date.now()) / 1000));
    return t("desktop.offer_expires", { seconds: left });
  }

  function renderOffers() {
    const ul = $("offers");
    if (!offers.size) { ul.innerHTML = '<li class="empty">' + esc(t("desktop.no_offers")) + "</li>"; return; }
    ul.innerHTML = "";
    for (const offer of offers.values()) {
      const li = document.createElement("li");
      li.className = "offer";
      li.dataset.offerId = offer.id;
      li.innerHTML = '<div><strong class="offer-customer">' + esc(offer.customerName || offer.customer_name || "…") +
        "</strong> " + '<span class="muted">' + esc(t("channel." + (offer.channel || offer.channel_kind || "webchat"))) +
        "</span></div>" + '<div class="muted countdown">' + esc(countdown(offer)) + "</div>" +
        '<button type="button" class="accept">' + esc(t("desktop.accept")) + "</button> " +
        '<button type="button" class="reject secondary">' + esc(t("desktop.reject")) + "</button>";
      li.querySelector(".accept").addEventListener("click", () => accept(offer.id));
      li.querySelector(".reject").addEventListener("click", () => reject(offer.id));
      ul.appendChild(li);
    }
  }

  async function addOffer(offer) {
    offers.set(offer.id, offer);
    renderOffers();
    try {
      const detail = await api("GET", "/api/v1/contacts/" + offer.contact_id);
      offer.customerName = detail.customer.display_name || detail.customer.email || t("desktop.unknown_customer");
      offer.channel = detail.contact.channel_kind;
      renderOffers();
    } catch (err) { /* the offer may have gone already */ }
  }

  async function accept(offerId) {
    try {
      const contact = await api("POST", "/api/v1/offers/" + offerId + "/accept");
      offers.delete(offerId);
      renderOffers();
      await loadContacts();
      await openContact(contact.id);
    } catch (err) {
      offers.delete(offerId);
      renderOffers();
      showError(err);
    }
  }

  async function reject(offerId) {
    try { await api("POST", "/api/v1/offers/" + offerId + "/reject"); } catch (err) { showError(err); }
    offers.delete(offerId);
    renderOffers();
  }

  async function loadOffers() {
    const list = await api("GET", "/api/v1/offers");
    offers.clear();
    for (const offer of list) if (offer.state === "pending") addOffer(offer);
    renderOffers();
  }

  // Tick the countdowns in place: redrawing the list every second would replace the Accept button
  // under the agent's pointer and swallow the click.
  setInterval(() => {
    let changed = false;
    for (const [id, offer] of offers) if (new Date(offer.expires_at) < Date.now() - 2000) { offers.delete(id); changed = true; }
    if (changed) { renderOffers(); return; }
    for (const li of $("offers").querySelectorAll("li.offer")) {
      const offer = offers.get(Number(li.dataset.offerId));
      if (offer) li.querySelector(".countdown").textContent = countdown(offer);
    }
  }, 1000);

  // --- contacts -------------------------------------------------------------------------------
  async function loadContacts() {
    const list = await api("GET", "/api/v1/contacts?agent_id=" + me + "&limit=100");
    // The list has no customer names or unread marks: keep what the desktop learnt so far.
    const known = new Map(contacts.map((c) => [c.id, c]));
    contacts = list.filter((c) => OPEN.has(c.state) && c.agent_id === me).map((c) => {
      const before = known.get(c.id);
      return before ? { ...c, customerName: before.customerName, unread: before.unread } : c;
    });
    renderContacts();
  }

  function renderContacts() {
    const ul = $("contacts");
    if (!contacts.length) { ul.innerHTML = '<li class="empty">' + esc(t("desktop.no_contacts")) + "</li>"; return; }
    ul.innerHTML = "";
    for (const c of contacts) {
      const li = document.createElement("li");
      li.className = "contact-item" + (current && current.contact.id === c.id ? " selected" : "") + (c.unread ? " unread" : "");
      li.dataset.contactId = c.id;
      li.innerHTML = "<span>#" + c.id + " " + esc(c.customerName || "") + "</span> " +
        '<span class="pill state-' + esc(c.state) + '">' + esc(t("contact.state." + c.state)) + "</span>";
      li.addEventListener("click", () => openContact(c.id));
      ul.appendChild(li);
    }
  }

  // --- conversation ---------------------------------------------------------------------------
  // Live events carry the author's name; messages loaded with the contact carry only the author's id.
  function agentName(message) {
    if (message.author_name) return message.author_name;
    if (message.author_user_id != null && message.author_user_id === me) return boot.user.name;
    return t("author.agent");
  }

  function systemText(message) {
    return t(message.body, { agent: agentName(message) });
  }

  function appendMessage(message) {
    if (shown.has(message.message_id ?? message.id)) return;
    shown.add(message.message_id ?? message.id);
    const li = document.createElement("li");
    li.className = "msg " + message.author_kind + (message.kind === "note" ? " note" : "");
    li.dataset.messageId = message.message_id ?? message.id;
    const who = message.author_kind === "agent" ? agentName(message) :
      message.author_kind === "customer" ? (current.customer.display_name || t("author.customer")) :
      message.author_kind === "bot" ? t("author.bot") : t("author.system");
    const body = message.author_kind === "system" ? systemText(message) : message.body;
    li.innerHTML = '<div class="meta">' + esc(who) + (message.kind === "note" ? " · " + esc(t("desktop.note")) : "") +
      " · " + esc(fmtTime(message.created_at)) + '</div><div class="body">' + esc(body) + "</div>";
    $("messages").appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function renderScreenPop(detail) {
    const c = detail.customer;
    const ids = (c.identities || []).map((i) => "<li>" + esc(i.kind) + ": " + esc(i.address) +
      (i.verified ? " ✔" : "") + "</li>").join("");
    $("customer").innerHTML = '<p class="customer-name" id="customer-name">' + esc(c.display_name || t("desktop.unknown_customer")) + "</p>" +
      (c.email ? "<p>" + esc(c.email) + "</p>" : "") + (c.phone ? "<p>" + esc(c.phone) + "</p>" : "") +
      "<h4>" + esc(t("desktop.identities")) + '</h4><ul class="small">' + ids + "</ul>";
    const items = detail.timeline.filter((item) => item.contact_id !== detail.contact.id);
    $("timeline").innerHTML = items.length ? items.map((item) =>
      '<li class="timeline-item"><div class="meta">' + esc(fmtTime(item.created_at)) + " · " + esc(t("channel." + item.channel_kind)) +
      " · " + esc(t("contact.state." + item.state)) + (item.disposition_code ? " · " + esc(item.disposition_code) : "") +
      (item.agent_name ? " · " + esc(item.agent_name) : "") + "</div>" +
      '<div class="body">' + esc(item.last_message || item.subject || "") + '</div><div class="muted small">' +
      esc(t("desktop.messages", { count: item.message_count })) + "</div></li>").join("")
      : '<li class="empty">' + esc(t("desktop.no_history")) + "</li>";
  }

  function renderContactState(contact) {
    $("conv-state").textContent = t("contact.state." + contact.state);
    $("conv-state").className = "pill state-" + contact.state;
    const live = contact.state === "active" || contact.state === "held";
    $("composer").classList.toggle("hidden", !live && contact.state !== "ended");
    $("end-contact").classList.toggle("hidden", !live);
    $("transfer").classList.toggle("hidden", !live);
    $("wrap-up").classList.toggle("hidden", contact.state !== "ended");
  }

  // --- the bot's hand-off and agent assist ---------------------------------------------------------
  async function loadBotSummary(contactId) {
    const summary = await api("GET", "/api/v1/contacts/" + contactId + "/flow");
    if (!current || current.contact.id !== contactId) return;
    $("bot-card").classList.toggle("hidden", !summary);
    if (!summary) { $("bot-summary").innerHTML = ""; return; }
    const fields = Object.entries(summary.variables).filter(([k]) => k !== "escalation_reason");
    $("bot-summary").innerHTML = '<p class="small">' + esc(t("desktop.bot_flow")) + ": " + esc(summary.flow_name) +
      " v" + esc(summary.flow_version) + "</p>" +
      (summary.escalation_reason ? '<p class="bot-reason">' + esc(t("desktop.bot_reason")) + ": " +
        esc(t("escalation." + summary.escalation_reason)) + "</p>" : "") +
      (fields.length ? "<h4>" + esc(t("desktop.bot_fields")) + '</h4><dl class="small bot-fields">' +
        fields.map(([k, v]) => "<dt>" + esc(k) + "</dt><dd>" + esc(v) + "</dd>").join("") + "</dl>" : "");
  }

  async function loadSuggestions(contactId) {
    const hits = await api("GET", "/api/v1/contacts/" + contactId + "/suggestions");
    if (!current || current.contact.id !== contactId) return;
    $("assist").classList.remove("hidden");
    const ul = $("suggestions");
    if (!hits.length) { ul.innerHTML = '<li class="empty">' + esc(t("desktop.no_suggestions")) + "</li>"; return; }
    ul.innerHTML = "";
    for (const hit of hits) {
      const li = document.createElement("li");
      li.className = "suggestion";
      li.dataset.articleId = hit.article_id;
      li.innerHTML = "<strong>" + esc(hit.title) + '</strong><div class="small muted">' + esc(hit.answer.slice(0, 140)) +
        (hit.answer.length > 140 ? "…" : "") + '</div><button type="button" class="insert secondary">' +
        esc(t("desktop.insert")) + "</button>";
      li.querySelector(".insert").addEventListener("click", () => {
        const box = $("reply");
        box.value = box.value.trim() ? box.value.trimEnd() + "\n" + hit.answer : hit.answer;
        box.focus();
      });
      ul.appendChild(li);
    }
  }

  let suggestTimer = null;
  function suggestSoon(contactId) {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => loadSuggestions(contactId).catch(() => null), 400);
  }

  async function openContact(contactId) {
    try {
      const detail = await api("GET", "/api/v1/contacts/" + contactId);
      current = detail;
      shown = new Set();
      $("conversation-empty").classList.add("hidden");
      $("conversation-body").classList.remove("hidden");
      $("conv-title").textContent = "#" + detail.contact.id + " " + (detail.customer.display_name || t("desktop.unknown_customer"));
      $("messages").innerHTML = "";
      for (const m of detail.messages) appendMessage(m);
      renderScreenPop(detail);
      renderContactState(detail.contact);
      document.dispatchEvent(new CustomEvent("mdg:contact-opened", { detail }));  // channel panels (email_desk.js)
      loadBotSummary(contactId).catch(() => $("bot-card").classList.add("hidden"));
      loadSuggestions(contactId).catch(() => $("assist").classList.add("hidden"));
      const entry = contacts.find((c) => c.id === contactId);
      if (entry) { entry.unread = false; entry.customerName = detail.customer.display_name; }
      renderContacts();
      showError(null);
    } catch (err) { showError(err); }
  }

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text || !current) return;
    const kind = document.querySelector('input[name="kind"]:checked').value;
    const op = { op: "message.send", contact_id: current.contact.id, body: text, kind, client_msg_id: uid() };
    $("reply").value = "";
    try {
      await rt.send(op);
    } catch (err) {
      try {
        const message = await api("POST", "/api/v1/contacts/" + op.contact_id + "/messages",
          { body: op.body, kind: op.kind, client_msg_id: op.client_msg_id });
        appendMessage({ ...message, author_name: boot.user.name });
      } catch (err2) { $("reply").value = text; showError(err2); }
    }
  });

  $("reply").addEventListener("input", () => {
    if (!current || Date.now() - lastTypingSent < 2000) return;
    lastTypingSent = Date.now();
    rt.cast({ op: "typing", contact_id: current.contact.id, active: true });
  });

  $("transfer-contact").addEventListener("click", async () => {
    if (!current || !$("transfer-queue").value) return;
    try {
      await api("POST", "/api/v1/contacts/" + current.contact.id + "/transfer", { queue_id: Number($("transfer-queue").value) });
      current = null;
      $("conversation-body").classList.add("hidden");
      $("conversation-empty").classList.remove("hidden");
      $("customer").innerHTML = "";
      $("timeline").innerHTML = "";
      await loadContacts();
    } catch (err) { showError(err); }
  });

  async function loadQueues() {
    const queues = await api("GET", "/api/v1/queues");
    $("transfer-queue").innerHTML = queues.map((q) => '<option value="' + q.id + '">' +
      esc(boot.lang === "ja" && q.name_ja ? q.name_ja : q.name) + "</option>").join("");
  }

  $("end-contact").addEventListener("click", async () => {
    if (!current) return;
    try {
      const contact = await api("POST", "/api/v1/contacts/" + current.contact.id + "/end");
      current.contact = contact;
      renderContactState(contact);
    } catch (err) { showError(err); }
  });

  $("wrap-up").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    try {
      await api("POST", "/api/v1/contacts/" + current.contact.id + "/wrap-up",
        { disposition_code: $("disposition").value, note: $("wrap-note").value || null });
      $("wrap-note").value = "";
      current = null;
      $("conversation-body").classList.add("hidden");
      $("conversation-empty").classList.remove("hidden");
      $("customer").innerHTML = "";
      $("timeline").innerHTML = "";
      await loadContacts();
      await loadMe();
    } catch (err) { showError(err); }
  });

  async function loadDispositions() {
    dispositions = await api("GET", "/api/v1/dispositions");
    $("disposition").innerHTML = dispositions.filter((d) => d.active).map((d) =>
      '<option value="' + esc(d.code) + '">' + esc(boot.lang === "ja" ? d.label_ja : d.label_en) + "</option>").join("");
  }

  // --- realtime -------------------------------------------------------------------------------
  let reloadTimer = null;
  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => loadContacts().catch(showError), 150);
  }

  function onEvent(frame) {
    const data = frame.data;
    document.dispatchEvent(new CustomEvent("mdg:event", { detail: frame }));
    switch (frame.type) {
      case "offer.created":
        if (data.agent_id === me && data.state === "pending") addOffer({ id: data.offer_id, ...data });
        break;
      case "offer.closed":
        if (offers.delete(data.offer_id)) renderOffers();
        if (data.agent_id === me) reloadSoon();
        break;
      case "contact.changed":
        if (current && current.contact.id === data.contact_id) {
          current.contact.state = data.state;
          renderContactState(current.contact);
        }
        reloadSoon();
        break;
      case "message.created":
        if (current && current.contact.id === data.contact_id) {
          appendMessage(data);
          if (data.author_kind === "customer") { $("typing").classList.add("hidden"); suggestSoon(data.contact_id); }
        } else {
          const entry = contacts.find((c) => c.id === data.contact_id);
          if (entry) { entry.unread = true; renderContacts(); }
        }
        break;
      case "typing":
        if (current && current.contact.id === data.contact_id && data.who === "customer") {
          $("typing").classList.toggle("hidden", !data.active);
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => $("typing").classList.add("hidden"), 4000);
        }
        break;
      case "agent.state_changed":
        if (data.agent_id === me) renderState({ state: data.state, break_reason: data.reason });
        break;
      default:
        break;
    }
  }

  const rt = new Realtime("/ws", onEvent, {
    onStatus: (up) => $("conn-banner").classList.toggle("hidden", up),
    onReady: () => { loadOffers().catch(showError); loadContacts().catch(showError); },
  });

  loadMe().catch(showError);
  loadDispositions().catch(showError);
  loadQueues().catch(showError);
  window.MdgDesktop = { rt, openContact };
})();
