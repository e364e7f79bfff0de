// Knowledge-base editing: list and search, a form per article, versions, import and export, and the
// bot's report (containment, escalations, unanswered questions) for editors.
(function () {
  "use strict";
  const { t, esc, api } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  const form = $("kb-form");
  const notice = (text) => { $("kb-notice").textContent = text; };
  const fail = (err) => notice(t("desktop.error", { message: err.message }));

  async function list() {
    const q = $("kb-q").value.trim();
    const lang = $("kb-lang").value;
    const items = q
      ? await api("GET", "/api/v1/kb/search?top=20&q=" + encodeURIComponent(q) + (lang ? "&language=" + lang : ""))
      : await api("GET", "/api/v1/kb/articles?limit=200" + (lang ? "&language=" + lang : ""));
    $("kb-articles").innerHTML = items.map((a) => '<li class="kb-article" data-id="' + (a.article_id || a.id) + '">' +
      '<a href="#">' + esc(a.title) + "</a> <span class=\"muted small\">" + esc(a.language) +
      (a.status ? " · " + esc(t("kb.status." + a.status)) : " · " + esc(a.score)) + "</span></li>").join("");
    document.querySelectorAll(".kb-article a").forEach((link) => link.addEventListener("click", (event) => {
      event.preventDefault();
      edit(Number(link.parentElement.dataset.id)).catch(fail);
    }));
  }

  function fill(article) {
    form.elements.id.value = article ? article.id : "";
    form.elements.external_id.value = article ? article.external_id || "" : "";
    form.elements.title.value = article ? article.title : "";
    form.elements.questions.value = article ? article.questions.join("\n") : "";
    form.elements.answer.value = article ? article.answer : "";
    form.elements.language.value = article ? article.language : "ja";
    form.elements.category.value = article ? article.category || "" : "";
    form.elements.tags.value = article ? article.tags.join(", ") : "";
    form.elements.status.value = article && article.status !== "archived" ? article.status : "draft";
    $("kb-form-title").textContent = article ? t("kb.edit") + " #" + article.id : t("kb.new");
    $("kb-archive").classList.toggle("hidden", !article);
  }

  async function edit(id) {
    const [article, versions] = await Promise.all([api("GET", "/api/v1/kb/articles/" + id),
      api("GET", "/api/v1/kb/articles/" + id + "/versions")]);
    fill(article);
    $("kb-versions").innerHTML = versions.map((v) => "<li>v" + v.version + " · " + esc(new Date(v.created_at).toLocaleString()) +
      " · " + esc(t("kb.status." + v.status)) + " · " + esc(v.title) + "</li>").join("");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const el = form.elements;
    const body = {
      external_id: el.external_id.value.trim() || null, title: el.title.value.trim() || null,
      questions: el.questions.value.split("\n").map((q) => q.trim()).filter(Boolean),
      answer: el.answer.value, language: el.language.value, category: el.category.value.trim() || null,
      tags: el.tags.value.split(",").map((x) => x.trim()).filter(Boolean), status: el.status.value,
    };
    try {
      const saved = el.id.value ? await api("PUT", "/api/v1/kb/articles/" + el.id.value, body)
        : await api("POST", "/api/v1/kb/articles", body);
      notice(t("kb.saved", { version: saved.version }));
      await edit(saved.id);
      await list();
    } catch (err) { fail(err); }
  });

  $("kb-archive").addEventListener("click", async () => {
    if (!form.elements.id.value) return;
    try { await api("DELETE", "/api/v1/kb/articles/" + form.elements.id.value); fill(null); await list(); } catch (err) { fail(err); }
  });
  $("kb-new").addEventListener("click", () => { fill(null); $("kb-versions").innerHTML = ""; });
  $("kb-search").addEventListener("submit", (event) => { event.preventDefault(); list().catch(fail); });

  $("kb-file").addEventListener("change", async () => {
    const file = $("kb-file").files[0];
    if (!file) return;
    const text = await file.text();
    const csv = file.name.toLowerCase().endsWith(".csv");
    try {
      const response = await fetch("/api/v1/kb/import", { method: "POST", credentials: "same-origin", body: text,
        headers: { "content-type": csv ? "text/csv" : "application/json", "x-csrf-token": window.Mdg.boot.csrf } });
      const data = await response.json();
      if (!response.ok) throw new Error(data.message || response.status);
      notice(t("kb.imported", data));
      await list();
    } catch (err) { fail(err); }
    $("kb-file").value = "";
  });

  async function report() {
    if (!$("bot-report")) return;
    const [kpi, unanswered] = await Promise.all([api("GET", "/api/v1/bot/report"), api("GET", "/api/v1/bot/unanswered?limit=20")]);
    const rate = kpi.containment_rate == null ? "—" : Math.round(kpi.containment_rate * 100) + "%";
    $("bot-containment").textContent = t("kb.containment", { contained: kpi.contained, entered: kpi.entered, rate });
    $("bot-feedback").textContent = t("kb.feedback", kpi);
    $("bot-escalations").innerHTML = Object.entries(kpi.escalations).map(([reason, n]) =>
      "<li>" + esc(t("escalation." + reason)) + ": " + n + "</li>").join("");
    $("bot-unanswered").innerHTML = unanswered.length ? unanswered.map((u) => "<li>" + esc(u.query) +
      ' <span class="muted">×' + u.count + "</span></li>").join("") : "<li class=\"empty\">" + esc(t("kb.no_unanswered")) + "</li>";
  }

  list().catch(fail);
  report().catch(fail);
})();
