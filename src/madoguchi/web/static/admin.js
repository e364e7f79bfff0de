// Minimal administration: lists and create forms that post to the API.
(function () {
  "use strict";
  const { boot, t, esc, api } = window.Mdg;
  const $ = (id) => document.getElementById(id);

  async function load() {
    const [users, queues, entryPoints, dispositions] = await Promise.all([
      api("GET", "/api/v1/users"), api("GET", "/api/v1/queues"),
      api("GET", "/api/v1/entry-points"), api("GET", "/api/v1/dispositions")]);
    $("users").innerHTML = users.map((u) => "<li>" + esc(u.display_name) + " · " + esc(u.email) + " · " + esc(u.role) + "</li>").join("");
    $("queues").innerHTML = queues.map((q) => "<li>" + esc(q.name) + (q.name_ja ? " / " + esc(q.name_ja) : "") + "</li>").join("");
    $("entry-points").innerHTML = entryPoints.map((e) => "<li>" + esc(e.name) + " · <code>" + esc(e.public_key) + "</code></li>").join("");
    $("dispositions").innerHTML = dispositions.map((d) => "<li><code>" + esc(d.code) + "</code> " +
      esc(boot.lang === "ja" ? d.label_ja : d.label_en) + "</li>").join("");
    document.querySelectorAll('select[data-options="queues"]').forEach((select) => {
      select.innerHTML = queues.map((q) => '<option value="' + q.id + '">' + esc(q.name) + "</option>").join("");
    });
  }

  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const el of form.elements) {
        if (!el.name) continue;
        if (el.type === "checkbox") body[el.name] = el.checked;
        else if (el.value === "") continue;
        else if (el.name.endsWith("_id")) body[el.name] = Number(el.value);
        else body[el.name] = el.value;
      }
      try {
        const created = await api("POST", form.dataset.api, body);
        $("admin-notice").textContent = created && created.secret ? t("admin.secret_once", { secret: created.secret }) : t("admin.created");
        form.reset();
        await load();
      } catch (err) {
        $("admin-notice").textContent = t("desktop.error", { message: err.message });
      }
    });
  });

  load().catch((err) => { $("admin-notice").textContent = t("desktop.error", { message: err.message }); });
})();
