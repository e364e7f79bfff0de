// Agent desktop, email contacts: the thread with headers, text, sanitized HTML (in a sandboxed frame
// that loads no remote content until the agent asks), attachments, and the reply form (canned
// responses with variables, CC/BCC, rich text or plain, attachments) that goes to the outbox.
(function () {
  "use strict";
  const { boot, t, esc, api, fmtTime } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  let contact = null;          // the open contact, when it is an email
  let templates = null;
  let reloadTimer = null;
  const remoteAllowed = new Set();   // email ids whose remote images the agent chose to load

  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/email.css";
  document.head.appendChild(link);

  const panel = document.createElement("section");
  panel.id = "email-panel";
  panel.className = "email-panel hidden";
  panel.innerHTML = '<h3>' + esc(t("email.thread")) + ' <span class="muted small" id="email-sla"></span></h3>' +
    '<ol class="email-list" id="email-list"></ol>' +
    '<form class="email-reply hidden" id="email-reply">' +
    '<h3>' + esc(t("email.reply")) + "</h3>" +
    row("to", "email-to") + row("cc", "email-cc") + row("bcc", "email-bcc") + row("subject", "email-subject") +
    '<div class="row"><label for="email-template">' + esc(t("email.template")) + '</label>' +
    '<select id="email-template"></select> <button type="button" class="secondary" id="email-insert">' +
    esc(t("email.insert_template")) + "</button></div>" +
    '<div class="row email-toolbar"><button type="button" class="secondary" data-cmd="bold"><b>' + esc(t("email.bold")) +
    '</b></button><button type="button" class="secondary" data-cmd="italic"><i>' + esc(t("email.italic")) +
    '</i></button><button type="button" class="secondary" data-cmd="createLink">' + esc(t("email.link")) + "</button>" +
    '<label><input type="checkbox" id="email-plain"> ' + esc(t("email.plain_text")) + "</label></div>" +
    '<div class="email-editor" id="email-body" contenteditable="true" role="textbox" aria-multiline="true"></div>' +
    '<div class="row"><label for="email-files">' + esc(t("email.attach")) + '</label><input type="file" id="email-files" multiple></div>' +
    '<button type="submit" id="email-send">' + esc(t("email.send")) + '</button> <span class="notice" id="email-notice"></span>' +
    '<p class="error" id="email-error" role="alert"></p></form>';
  const messages = $("messages");
  messages.parentNode.insertBefore(panel, messages.nextSibling);

  function row(name, id) {
    return '<div class="row"><label for="' + id + '">' + esc(t("email." + name)) + '</label><input type="text" id="' + id + '"></div>';
  }

  function addresses(value) {
    return value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
  }

  // The HTML is already sanitized by the server; the frame adds a second wall: no scripts at all
  // (no allow-scripts) and a policy that only loads this server's images until the agent consents.
  function frameDoc(html, allowRemote) {
    const imgs = allowRemote ? "* data:" : "'self' data:";
    return '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; ' +
      "img-src " + imgs + "; style-src 'unsafe-inline'\"><base target=\"_blank\">" +
      "<style>body{font-family:system-ui,sans-serif;font-size:13px;margin:8px}img{max-width:100%}</style></head><body>" +
      html + "</body></html>";
  }

  function renderEmail(mail) {
    const li = document.createElement("li");
    li.className = "email-item " + mail.direction;
    li.dataset.emailId = mail.id;
    const who = mail.from_name ? mail.from_name + " <" + mail.from_addr + ">" : mail.from_addr;
    let status = "";
    if (mail.delivery_status) {
      status = '<span class="email-badge ' + esc(mail.delivery_status) + '">' +
        esc(t("email.status." + mail.delivery_status, { error: mail.delivery_error || "" })) + "</span>";
    }
    const auto = mail.auto_kind ? '<span class="email-badge">' + esc(t("email.auto." + mail.auto_kind)) + "</span>" : "";
    let html = "<header>" + '<div class="email-subject">' + esc(mail.subject || t("email.no_subject")) + auto + status + "</div>" +
      "<div>" + esc(t("email.from")) + ": " + esc(who) + " · " + esc(fmtTime(mail.sent_date || mail.created_at)) + "</div>" +
      (mail.to.length ? "<div>" + esc(t("email.to")) + ": " + esc(mail.to.join(", ")) + "</div>" : "") +
      (mail.cc.length ? "<div>" + esc(t("email.cc")) + ": " + esc(mail.cc.join(", ")) + "</div>" : "") +
      (mail.bcc.length ? "<div>" + esc(t("email.bcc")) + ": " + esc(mail.bcc.join(", ")) + "</div>" : "") + "</header>";
    if (mail.parse_error) html += '<div class="email-parse-error">' + esc(t("email.parse_error", { error: mail.parse_error })) + "</div>";
    if (!mail.html) html += '<pre class="email-text">' + esc(mail.text) + "</pre>";
    const files = mail.attachments.filter((a) => a.disposition !== "inline");
    if (files.length || mail.raw_url) {
      html += '<div class="email-attachments">' + (files.length ? esc(t("email.attachments")) + ": " : "") +
        files.map((a) => '<a href="' + esc(a.url) + '" download>' + esc(a.filename) + "</a>").join("") +
        (mail.raw_url ? '<a class="muted" href="' + esc(mail.raw_url) + '" download>' + esc(t("email.raw")) + "</a>" : "") + "</div>";
    }
    li.innerHTML = html;
    if (mail.html) {
      const frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "allow-same-origin allow-popups allow-popups-to-escape-sandbox");
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.title = mail.subject || "";
      frame.srcdoc = frameDoc(mail.html, remoteAllowed.has(mail.id));
      frame.addEventListener("load", () => {
        try { frame.style.height = Math.min(frame.contentDocument.body.scrollHeight + 24, 600) + "px"; } catch (e) { /* sized by CSS */ }
      });
      li.querySelector("header").after(frame);
      if (/src="https?:/i.test(mail.html) && !remoteAllowed.has(mail.id)) {
        const note = document.createElement("div");
        note.className = "email-parse-error muted";
        note.innerHTML = esc(t("email.remote_blocked")) + ' <button type="button" class="secondary">' + esc(t("email.remote_images")) + "</button>";
        note.querySelector("button").addEventListener("click", () => {
          remoteAllowed.add(mail.id);
          frame.srcdoc = frameDoc(mail.html, true);
          note.remove();
        });
        frame.after(note);
      }
    }
    return li;
  }

  async function loadThread() {
    if (!contact) return;
    const id = contact.id;
    const thread = await api("GET", "/api/v1/contacts/" + id + "/email");
    if (!contact || contact.id !== id) return;
    const list = $("email-list");
    list.innerHTML = "";
    for (const mail of thread.emails) list.appendChild(renderEmail(mail));
    list.scrollTop = list.scrollHeight;
    $("email-sla").textContent = thread.first_responded_at ? t("email.first_responded", { time: fmtTime(thread.first_responded_at) })
      : thread.first_response_due_at ? t("email.first_response_due", { time: fmtTime(thread.first_response_due_at) }) : "";
    const last = [...thread.emails].reverse().find((m) => m.direction === "inbound");
    if (last && !$("email-to").value) $("email-to").value = last.reply_to || last.from_addr;
    // Left empty, the server answers as "Re: <subject> [#case]" and a template may set its own subject;
    // a filled-in subject replaces that default, so the default is only shown, not entered.
    const base = (last ? last.subject : contact.subject) || "";
    $("email-subject").placeholder = base ? (/^re:/i.test(base) ? base : "Re: " + base) : "";
  }

  async function loadTemplates() {
    if (templates) return;
    templates = await api("GET", "/api/v1/email/templates");
    templates.sort((a, b) => (a.language === boot.lang ? -1 : 1) - (b.language === boot.lang ? -1 : 1));
    $("email-template").innerHTML = templates.map((tpl) =>
      '<option value="' + tpl.id + '">' + esc(tpl.name) + " (" + esc(tpl.language) + ")</option>").join("");
  }

  function showReply(state) {
    const live = state === "active" || state === "held";
    $("email-reply").classList.toggle("hidden", !live);
  }

  // In an email contact the chat composer writes internal notes only; replies go by email.
  function chatReply(enabled) {
    const reply = document.querySelector('#composer input[name="kind"][value="text"]');
    const note = document.querySelector('#composer input[name="kind"][value="note"]');
    if (!reply || !note) return;
    reply.closest("label").classList.toggle("hidden", !enabled);
    if (!enabled) note.checked = true; else reply.checked = true;
  }

  function resetForm() {
    for (const id of ["email-to", "email-cc", "email-bcc", "email-subject"]) $(id).value = "";
    $("email-subject").placeholder = "";
    $("email-body").innerHTML = "";
    $("email-files").value = "";
    $("email-error").textContent = "";
    $("email-notice").textContent = "";
  }

  document.addEventListener("mdg:contact-opened", (event) => {
    const detail = event.detail;
    const isEmail = detail.contact.channel_kind === "email";
    const changed = !contact || contact.id !== detail.contact.id;
    contact = isEmail ? detail.contact : null;
    panel.classList.toggle("hidden", !isEmail);
    chatReply(!isEmail);
    if (!isEmail) return;
    if (changed) resetForm();
    showReply(detail.contact.state);
    loadThread().catch((err) => { $("email-error").textContent = err.message; });
    loadTemplates().catch(() => null);
  });

  document.addEventListener("mdg:event", (event) => {
    const frame = event.detail;
    const data = frame.data || {};
    if (!contact || data.contact_id !== contact.id) return;
    if (frame.type === "contact.changed") { contact.state = data.state; showReply(data.state); }
    if (frame.type === "message.created" || frame.type === "email.delivery_changed" || frame.type === "contact.changed") {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => loadThread().catch(() => null), 150);
    }
  });

  panel.querySelectorAll("[data-cmd]").forEach((button) => {
    button.addEventListener("click", () => {
      const cmd = button.dataset.cmd;
      if (cmd === "createLink") {
        const url = prompt(t("email.link_prompt"), "https://");
        if (url && /^(https?:|mailto:)/i.test(url)) document.execCommand("createLink", false, url);
      } else {
        document.execCommand(cmd, false, null);
      }
      $("email-body").focus();
    });
  });

  $("email-insert").addEventListener("click", async () => {
    if (!contact || !$("email-template").value) return;
    try {
      const rendered = await api("POST", "/api/v1/contacts/" + contact.id + "/email/render",
        { template_id: Number($("email-template").value) });
      $("email-body").innerText = rendered.body + ($("email-body").innerText ? "\n\n" + $("email-body").innerText : "");
      if (rendered.subject && !$("email-subject").value) $("email-subject").value = rendered.subject;
    } catch (err) { $("email-error").textContent = err.message; }
  });

  function readFile(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve({ filename: file.name, content_type: file.type || "application/octet-stream",
        data_base64: String(reader.result).split(",", 2)[1] || "" });
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  $("email-reply").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!contact) return;
    const text = $("email-body").innerText.trim();
    if (!text) return;
    $("email-send").disabled = true;
    $("email-error").textContent = "";
    try {
      const body = {
        body_text: text, to: addresses($("email-to").value), cc: addresses($("email-cc").value),
        bcc: addresses($("email-bcc").value), subject: $("email-subject").value || null,
        attachments: await Promise.all([...$("email-files").files].map(readFile)),
      };
      if (!$("email-plain").checked) body.body_html = $("email-body").innerHTML;
      if (!body.to.length) delete body.to;
      await api("POST", "/api/v1/contacts/" + contact.id + "/email/replies", body);
      $("email-body").innerHTML = "";
      $("email-files").value = "";
      $("email-notice").textContent = t("email.queued");
      await loadThread();
    } catch (err) {
      $("email-error").textContent = err.message;
    } finally {
      $("email-send").disabled = false;
    }
  });

  window.MdgEmail = { reload: loadThread };
})();
