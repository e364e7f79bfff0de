// Flow administration: a JSON (or YAML) editor with validation, versions, publishing and the
// assignment of flows to entry points.
(function () {
  "use strict";
  const { t, esc, api } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  let flows = [];
  let current = null;
  const notice = (text) => { $("flow-notice").textContent = text; };
  const fail = (err) => notice(t("desktop.error", { message: err.message }));

  async function loadPrompts() {
    const items = await api("GET", "/api/v1/voice/prompts");
    $("voice-prompts").innerHTML = items.length ? items.map((p) => '<li data-prompt="' + esc(p.name + "/" + p.language) +
      '"><code>' + esc(p.name) + "</code> " + esc(p.language) + " · " + esc(p.duration_s.toFixed(1)) + " s " +
      '<audio controls preload="none" src="' + esc(p.url) + '"></audio> <button type="button" class="secondary" ' +
      'data-delete="' + esc(p.name + "/" + p.language) + '">' + esc(t("flows.prompt_delete")) + "</button></li>").join("")
      : '<li class="empty">' + esc(t("flows.no_prompts")) + "</li>";
  }

  $("prompt-upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("prompt-file").files[0];
    if (!file) return;
    const path = "/api/v1/voice/prompts/" + encodeURIComponent($("prompt-name").value) + "/" + $("prompt-language").value;
    // The body is the file itself, so the generic JSON client is not used here.
    const response = await fetch(path, { method: "PUT", credentials: "same-origin", body: file,
      headers: { "content-type": "audio/wav", "accept": "application/json", "x-csrf-token": window.Mdg.boot.csrf || "" } });
    const data = await response.json().catch(() => null);
    if (!response.ok) { fail(new window.Mdg.ApiError(response.status, data)); return; }
    notice(t("flows.prompt_uploaded", { name: data.name, seconds: data.duration_s.toFixed(1) }));
    loadPrompts().catch(fail);
  });

  $("voice-prompts").addEventListener("click", async (event) => {
    const target = event.target.closest("[data-delete]");
    if (!target) return;
    try {
      await api("DELETE", "/api/v1/voice/prompts/" + target.dataset.delete);
      loadPrompts().catch(fail);
    } catch (err) { fail(err); }
  });

  function definitionBody() {
    const text = $("flow-definition").value;
    try { return { definition: JSON.parse(text) }; } catch (e) { return { yaml: text }; }
  }

  function showProblems(problems) {
    $("flow-problems").innerHTML = (problems || []).map((p) => "<li><code>" + esc(p.path) + "</code> " + esc(p.problem) + "</li>").join("");
  }

  function open(flow) {
    current = flow;
    $("flow-name").value = flow ? flow.name : "";
    $("flow-name").disabled = !!flow;
    $("flow-definition").value = flow ? JSON.stringify(flow.definition, null, 2)
      : JSON.stringify({ start: "faq", blocks: { faq: { type: "bot_answer", escalate: "handoff" }, handoff: { type: "queue" } } }, null, 2);
    $("flow-published").textContent = flow ? (flow.published_version ? t("flows.published_version", { version: flow.published_version })
      : t("flows.not_published")) + " · v" + flow.latest_version : "";
    showProblems([]);
  }

  async function load() {
    const [list, entryPoints] = await Promise.all([api("GET", "/api/v1/flows"), api("GET", "/api/v1/entry-points")]);
    flows = list;
    $("flows").innerHTML = flows.map((f) => '<li><a href="#" data-id="' + f.id + '">' + esc(f.name) + "</a> <span class=\"muted small\">v" +
      f.latest_version + (f.published_version ? " · " + esc(t("flows.published_version", { version: f.published_version })) : "") + "</span></li>").join("");
    document.querySelectorAll("#flows a").forEach((a) => a.addEventListener("click", (event) => {
      event.preventDefault();
      open(flows.find((f) => f.id === Number(a.dataset.id)));
    }));
    const options = (selected) => '<option value="">' + esc(t("flows.none")) + "</option>" + flows.filter((f) => f.published_version)
      .map((f) => '<option value="' + f.id + '"' + (f.id === selected ? " selected" : "") + ">" + esc(f.name) + "</option>").join("");
    $("assignments").querySelector("tbody").innerHTML = entryPoints.map((e) => {
      const assigned = flows.find((f) => f.entry_point_ids.includes(e.id));
      return "<tr><td>" + esc(e.name) + " <code>" + esc(e.public_key) + '</code></td><td><select data-entry-point="' + e.id + '">' +
        options(assigned ? assigned.id : null) + "</select></td></tr>";
    }).join("");
    document.querySelectorAll("select[data-entry-point]").forEach((select) => select.addEventListener("change", async () => {
      try {
        await api("PUT", "/api/v1/entry-points/" + select.dataset.entryPoint + "/flow", { flow_id: select.value ? Number(select.value) : null });
        notice(t("flows.assigned"));
        await load();
      } catch (err) { fail(err); }
    }));
    if (current) open(flows.find((f) => f.id === current.id) || null);
  }

  $("flow-new").addEventListener("click", () => open(null));
  $("flow-validate").addEventListener("click", async () => {
    try {
      const result = await api("POST", "/api/v1/flows/validate", definitionBody());
      showProblems(result.ok ? result.warnings : result.problems);
      notice(result.ok ? t("flows.valid") : "");
    } catch (err) { fail(err); }
  });
  $("flow-save").addEventListener("click", async () => {
    try {
      const saved = current ? await api("PUT", "/api/v1/flows/" + current.id, definitionBody())
        : await api("POST", "/api/v1/flows", { name: $("flow-name").value.trim(), ...definitionBody() });
      current = saved;
      notice(t("flows.saved", { version: saved.latest_version }));
      await load();
      showProblems(saved.warnings);
    } catch (err) { fail(err); if (err.errorId === "invalid_input") $("flow-validate").click(); }
  });
  $("flow-publish").addEventListener("click", async () => {
    if (!current) return;
    try {
      current = await api("POST", "/api/v1/flows/" + current.id + "/publish", {});
      notice(t("flows.published_version", { version: current.published_version }));
      await load();
    } catch (err) { fail(err); }
  });

  open(null);
  load().catch(fail);
  loadPrompts().catch(fail);
})();
