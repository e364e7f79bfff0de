// Supervisor floor view: queues, agents and open contacts, refreshed on realtime events.
(function () {
  "use strict";
  const { boot, t, esc, api, Realtime, fmtTime } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  let agents = [];
  let queues = [];

  function secs(value) {
    if (value == null) return "—";
    const s = Math.round(value);
    return s >= 60 ? Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") : s + "s";
  }

  async function load() {
    [queues, agents] = await Promise.all([api("GET", "/api/v1/queues"), api("GET", "/api/v1/agents")]);
    const names = new Map(agents.map((a) => [a.user_id, a.display_name]));
    const queueName = new Map(queues.map((q) => [q.id, boot.lang === "ja" && q.name_ja ? q.name_ja : q.name]));
    $("queues").innerHTML = queues.map((q) => '<tr data-queue-id="' + q.id + '"><td>' + esc(queueName.get(q.id)) +
      '</td><td class="num waiting">' + q.waiting + '</td><td class="num">' + secs(q.longest_wait_s) + "</td><td>" +
      q.agent_ids.map((id) => esc(names.get(id) || id)).join(", ") + "</td></tr>").join("");
    const canManage = boot.user && ["admin", "manager", "supervisor"].includes(boot.user.role);
    $("agents").innerHTML = agents.map((a) => '<tr data-agent-id="' + a.user_id + '"><td>' + esc(a.display_name) +
      '</td><td><span class="pill state-' + esc(a.state) + '">' + esc(t("state." + a.state)) +
      (a.break_reason ? " · " + esc(t("reason." + a.break_reason)) : "") + "</span></td><td>" + esc(fmtTime(a.state_since)) +
      '</td><td class="num">' + a.active_contacts + "</td><td>" +
      (canManage && a.state !== "offline" ? '<button type="button" class="secondary force-offline" data-id="' + a.user_id + '">' +
        esc(t("supervisor.force_offline")) + "</button>" : "") + "</td></tr>").join("");
    document.querySelectorAll(".force-offline").forEach((b) => b.addEventListener("click", async () => {
      await api("PUT", "/api/v1/agents/" + b.dataset.id + "/state", { state: "offline" }).catch((e) => alert(e.message));
      load();
    }));
    const open = [];
    for (const state of ["queued", "offered", "active", "held", "ended"]) {
      open.push(...await api("GET", "/api/v1/contacts?state=" + state + "&limit=200"));
    }
    $("open-contacts").innerHTML = open.map((c) => '<tr><td>#' + c.id + "</td><td>" + esc(t("channel." + c.channel_kind)) +
      '</td><td><span class="pill state-' + esc(c.state) + '">' + esc(t("contact.state." + c.state)) + "</span></td><td>" +
      esc(queueName.get(c.queue_id) || "") + "</td><td>" + esc(names.get(c.agent_id) || "") + "</td><td>" +
      esc(fmtTime(c.created_at)) + "</td></tr>").join("");
  }

  let timer = null;
  function soon() { clearTimeout(timer); timer = setTimeout(() => load().catch(console.error), 200); }

  new Realtime("/ws", () => soon(), {
    onStatus: (up) => $("conn-banner").classList.toggle("hidden", up),
    onReady: soon,
  });
})();
