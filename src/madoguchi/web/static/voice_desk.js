// Agent desktop, phone calls: the CTI screen pop (when the ACD rings the agent's phone, the
// caller's customer and timeline open at once, found by the caller's number), the call banner,
// pausing the recording (card numbers), consulting a colleague (then handing the caller over,
// joining all three, or going back), playing a call's recordings and reading their transcripts.
(function () {
  "use strict";
  const { t, esc, api } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  let contact = null;   // the open contact, when it is a call
  let paused = false;
  let consult = "";     // "", "ringing", "consulting", "conference"
  const lastCall = {};  // contact id → the latest voice.call event: it may come before the contact is open
  const known = {};     // contact id → the latest contact.changed event (state, agent), for the same reason

  const panel = document.createElement("section");
  panel.id = "voice-panel";
  panel.className = "voice-panel hidden";
  panel.innerHTML = '<p class="notice" id="voice-banner" role="status"></p>' +
    '<button type="button" class="secondary hidden" id="voice-record-toggle"></button> ' +
    '<span class="muted small" id="voice-record-state"></span>' +
    '<div class="hidden" id="voice-consult">' +
    '<label>' + esc(t("voice.consult_colleague")) + ' <select id="voice-consult-agent"></select></label> ' +
    '<button type="button" class="secondary" id="voice-consult-start">' + esc(t("voice.consult")) + '</button>' +
    '<span id="voice-consult-actions" class="hidden"> ' +
    '<button type="button" id="voice-consult-complete">' + esc(t("voice.consult_complete")) + '</button> ' +
    '<button type="button" class="secondary" id="voice-consult-conference">' + esc(t("voice.consult_conference")) +
    '</button> <button type="button" class="secondary" id="voice-consult-cancel">' +
    esc(t("voice.consult_cancel")) + '</button></span> <span class="muted small" id="voice-consult-state"></span>' +
    '</div>' +
    '<h3>' + esc(t("voice.recordings")) + '</h3><ul class="small" id="voice-recordings"></ul>' +
    '<h3>' + esc(t("voice.transcripts")) + '</h3><div class="small" id="voice-transcripts"></div>' +
    '<p class="error" id="voice-error" role="alert"></p>';
  const messages = $("messages");
  messages.parentNode.insertBefore(panel, messages);

  function showError(err) { $("voice-error").textContent = err ? err.message : ""; }

  function renderToggle() {
    const live = contact && (contact.state === "active" || contact.state === "held");
    $("voice-record-toggle").classList.toggle("hidden", !live);
    $("voice-record-toggle").textContent = t(paused ? "voice.resume_recording" : "voice.pause_recording");
    $("voice-record-state").textContent = live && paused ? t("voice.recording_paused") : "";
    renderConsult();
  }

  function renderConsult() {
    const live = contact && (contact.state === "active" || contact.state === "held") && contact.mine;
    $("voice-consult").classList.toggle("hidden", !live);
    $("voice-consult-start").classList.toggle("hidden", consult !== "");
    $("voice-consult-agent").disabled = consult !== "";
    $("voice-consult-actions").classList.toggle("hidden", consult === "" || consult === "ringing");
    $("voice-consult-conference").classList.toggle("hidden", consult === "conference");
    $("voice-consult-state").textContent = consult ? t("voice.consult_" + consult) : "";
  }

  async function loadColleagues() {
    const [items, queues] = await Promise.all([api("GET", "/api/v1/voice/colleagues"), api("GET", "/api/v1/queues")]);
    const lang = window.Mdg.boot.lang;
    // A colleague by name, or a queue (its longest-idle free member answers).
    $("voice-consult-agent").innerHTML = '<optgroup label="' + esc(t("voice.consult_agents")) + '">' +
      items.map((c) => '<option value="a:' + c.user_id + '"' + (c.reachable ? "" : " disabled") + ">" +
        esc(c.display_name) + " (" + esc(t("state." + c.state)) + ")</option>").join("") + "</optgroup>" +
      '<optgroup label="' + esc(t("voice.consult_queues")) + '">' +
      queues.map((q) => '<option value="q:' + q.id + '">' + esc(lang === "ja" && q.name_ja ? q.name_ja : q.name) +
        "</option>").join("") + "</optgroup>";
  }

  async function loadRecordings(contactId) {
    const items = await api("GET", "/api/v1/contacts/" + contactId + "/recordings");
    $("voice-recordings").innerHTML = items.length ? items.map((r) =>
      '<li><span>' + esc(t("voice.leg_" + r.leg)) + "</span> " +
      '<audio controls preload="none" src="' + esc(r.url) + '"></audio></li>').join("")
      : '<li class="empty">' + esc(t("voice.no_recordings")) + "</li>";
  }

  function clock(seconds) {
    const s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  async function loadTranscripts(contactId) {
    const items = await api("GET", "/api/v1/contacts/" + contactId + "/transcripts");
    // Both sides in one conversation, in time order; each line says who spoke and when.
    const lines = [];
    const notes = [];
    for (const tr of items) {
      const who = t(tr.speaker === "customer" ? "voice.speaker_customer" : "voice.speaker_agent");
      if (tr.status === "done") {
        for (const seg of tr.segments) lines.push({ at: seg.start_s, who, text: seg.text });
      } else if (tr.status === "pending" || tr.status === "working") {
        notes.push(who + ": " + t("voice.transcript_pending"));
      } else {
        notes.push(who + ": " + t(tr.status === "skipped" ? "voice.transcript_skipped" : "voice.transcript_failed",
          { why: tr.error || "" }));
      }
    }
    lines.sort((a, b) => a.at - b.at);
    $("voice-transcripts").innerHTML = (lines.length || notes.length)
      ? lines.map((l) => '<p class="transcript-line"><span class="muted">' + esc(clock(l.at)) + " " + esc(l.who) +
          "</span> " + esc(l.text) + "</p>").join("") +
        notes.map((n) => '<p class="muted">' + esc(n) + "</p>").join("")
      : '<p class="empty">' + esc(t("voice.no_transcripts")) + "</p>";
  }

  document.addEventListener("mdg:contact-opened", (event) => {
    const detail = event.detail;
    const isCall = detail.contact.channel_kind === "voice";
    contact = isCall ? detail.contact : null;
    panel.classList.toggle("hidden", !isCall);
    if (!isCall) return;
    paused = false;
    consult = "";
    const changed = known[detail.contact.id];
    if (changed) {  // newer than what the page loaded
      contact.state = changed.state;
      contact.agent_id = changed.agent_id;
    }
    contact.mine = contact.agent_id === window.Mdg.boot.user.id;
    const seen = lastCall[detail.contact.id];
    $("voice-banner").textContent = seen ? bannerText(seen)
      : t("voice.call_with", { caller: detail.customer.display_name || detail.contact.subject || "" });
    renderToggle();
    loadRecordings(detail.contact.id).catch(showError);
    loadTranscripts(detail.contact.id).catch(showError);
    if (contact.mine) loadColleagues().catch(showError);
  });

  async function consultAction(path, body) {
    if (!contact) return;
    try {
      await api("POST", "/api/v1/contacts/" + contact.id + "/voice/consult" + path, body);
      showError(null);
    } catch (err) { showError(err); }
  }
  // Colleagues come and go on duty: the list is drawn again whenever the agent opens it.
  $("voice-consult-agent").addEventListener("focus", () => { loadColleagues().catch(showError); });
  $("voice-consult-start").addEventListener("click", () => {
    const [kind, id] = ($("voice-consult-agent").value || "").split(":");
    if (id) consultAction("", kind === "q" ? { queue_id: Number(id) } : { agent_id: Number(id) });
  });
  $("voice-consult-complete").addEventListener("click", () => consultAction("/complete"));
  $("voice-consult-conference").addEventListener("click", () => consultAction("/conference"));
  $("voice-consult-cancel").addEventListener("click", () => consultAction("/cancel"));

  $("voice-record-toggle").addEventListener("click", async () => {
    if (!contact) return;
    try {
      await api("PUT", "/api/v1/contacts/" + contact.id + "/voice/recording", { paused: !paused });
      paused = !paused;
      renderToggle();
      showError(null);
    } catch (err) { showError(err); }
  });

  function bannerText(data) {
    const caller = { caller: data.customer_name || data.caller };
    if (data.state === "ringing") return t(data.callback ? "voice.ringing_callback" : "voice.ringing", caller);
    if (data.state === "consult") return t("voice.consulted");
    return t(data.state === "ended" ? "voice.call_ended" : "voice.call_with", caller);
  }

  function popOrUpdate(data) {
    // Events can beat the screen pop (the contact is still loading): open it if it is not the one
    // shown, and draw the banner from the latest call event either way.
    const draw = () => {
      if (contact && contact.id === data.contact_id) $("voice-banner").textContent = bannerText(lastCall[data.contact_id]);
    };
    if (contact && contact.id === data.contact_id) draw();
    else window.MdgDesktop.openContact(data.contact_id).then(draw);
  }

  document.addEventListener("mdg:event", (event) => {
    const frame = event.detail;
    const data = frame.data || {};
    const me = window.Mdg.boot.user.id;
    if (frame.type === "voice.call" && !data.state.startsWith("consult_") && data.state !== "consulting" &&
        data.state !== "conference") {
      lastCall[data.contact_id] = data;
    }
    if (frame.type === "contact.changed" && data.agent_id !== undefined) known[data.contact_id] = data;
    if (frame.type === "voice.call" && (data.state === "ringing" || data.state === "consult")) {
      popOrUpdate(data);  // CTI screen pop: show who is calling before the phone is answered
    } else if (frame.type === "voice.call" && data.state === "answered" && (!contact || contact.id !== data.contact_id)) {
      popOrUpdate(data);  // answered on this phone: the call is this agent's now
    } else if (frame.type === "voice.call" && contact && contact.id === data.contact_id &&
               ["consult_ringing", "consulting", "conference", "consult_failed"].includes(data.state)) {
      consult = data.state === "consult_ringing" ? "ringing" : data.state === "consult_failed" ? "" : data.state;
      renderConsult();
      if (data.state === "consult_failed") $("voice-consult-state").textContent = t("voice.consult_failed");
    } else if (frame.type === "voice.call" && contact && contact.id === data.contact_id) {
      consult = "";
      renderConsult();
      $("voice-banner").textContent = bannerText(data);
      if (data.state === "ended") loadRecordings(data.contact_id).catch(showError);
    } else if (frame.type === "voice.transcribed" && contact && contact.id === data.contact_id) {
      loadTranscripts(data.contact_id).catch(showError);
    } else if (frame.type === "contact.changed" && contact && contact.id === data.contact_id) {
      contact.state = data.state;
      if (data.agent_id !== undefined) {
        const mine = data.agent_id === me;
        if (mine && !contact.mine) loadColleagues().catch(showError);
        contact.mine = mine;
      }
      renderToggle();
      if (data.state === "ended" || data.state === "wrap_up") loadRecordings(data.contact_id).catch(showError);
    }
  });
})();
