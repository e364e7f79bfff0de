// Report page: filters → one report request, server-side SVG charts, a table whose numbers open the
// contacts behind them, and CSV exports of the same filters.
(function () {
  "use strict";
  const { boot, t, esc, api } = window.Mdg;
  const $ = (id) => document.getElementById(id);
  const VIEWS = { queues: ["queue", "channel", "all"], agents: ["agent", "team"], dispositions: ["disposition"] };
  const COLUMNS = {
    queues: ["offered", "handled", "abandoned", "abandoned_short", "flowed_out", "answer_rate", "service_level", "asa_s",
      "avg_wait_s", "abandon_rate", "aht_s", "avg_hold_s", "avg_acw_s", "transfer_rate", "fcr_rate", "csat", "csat_mean"],
    agents: ["handled", "aht_s", "avg_hold_s", "avg_acw_s", "transfer_rate", "logged_in_ms", "available_ms", "busy_ms",
      "wrap_ms", "break_ms", "occupancy", "utilization", "csat"],
    dispositions: ["handle_n", "aht_s", "avg_talk_s", "avg_hold_s", "avg_acw_s"],
  };
  const CHARTS = { queues: ["service_level", "volume", "abandon", "aht"], agents: ["occupancy"], dispositions: [] };
  // Counts open the legs behind them.
  const DRILL = { offered: "offered", handled: "handled", abandoned: "abandoned", abandoned_short: "abandoned_short",
    flowed_out: "flowed_out", handle_n: "handle" };
  const RATIOS = new Set(["answer_rate", "service_level", "abandon_rate", "transfer_rate", "fcr_rate", "csat",
    "occupancy", "utilization"]);

  function format(column, value) {
    if (value == null) return "—";
    if (RATIOS.has(column)) return (Math.round(value * 1000) / 10).toFixed(1) + "%";
    if (column.endsWith("_ms")) {
      const m = Math.round(value / 60000);
      return Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0");
    }
    if (column.endsWith("_s") || column === "csat_mean") return (Math.round(value * 10) / 10).toFixed(1);
    return String(value);
  }

  function today() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: boot.timezone }).format(new Date());
  }

  function query(extra) {
    const form = new FormData($("filters"));
    const q = new URLSearchParams();
    for (const [k, v] of form.entries()) if (v !== "" && k !== "kind") q.append(k, v);
    q.set("lang", boot.lang);
    for (const [k, v] of Object.entries(extra || {})) if (v != null && v !== "") q.set(k, v);
    return q;
  }

  function keyOf(row, view) {
    if (view === "queue") return { label: row.queue_name, param: ["queue_id", row.queue_id] };
    if (view === "channel") return { label: t("channel." + row.channel), param: ["channel", row.channel] };
    if (view === "agent") return { label: row.agent_name, param: ["agent_id", row.agent_id] };
    if (view === "team") return { label: row.team_name || "—", param: ["team_id", row.team_id] };
    if (view === "disposition") return { label: row.disposition_name || "—", param: ["disposition_id", row.disposition_id] };
    return { label: t("reports.view.all"), param: null };
  }

  function cells(kind, row, view, interval) {
    const key = keyOf(row, view);
    return COLUMNS[kind].map((c) => {
      const metric = DRILL[c];
      const text = esc(format(c, row[c]));
      if (!metric || !row[c]) return '<td class="num">' + text + "</td>";
      return '<td class="num"><a class="drill" data-metric="' + metric + '" data-interval="' + esc(interval || "") +
        '" data-key="' + esc(key.param ? key.param.join("=") : "") + '" data-label="' + esc(t("report.col." + c)) +
        '">' + text + "</a></td>";
    }).join("");
  }

  function renderTable(kind, report) {
    const view = report.view;
    const head = (report.interval !== "total" ? "<th>" + esc(t("report.col.interval_start")) + "</th>" : "") +
      "<th>" + esc(t("reports.view." + view)) + "</th>" +
      COLUMNS[kind].map((c) => '<th class="num">' + esc(t("report.col." + c)) + "</th>").join("");
    $("report").querySelector("thead").innerHTML = "<tr>" + head + "</tr>";
    const label = (iso) => iso ? iso.replace("T", " ").slice(0, 16) : "";
    const body = [];
    if (report.interval !== "total") {
      for (const row of report.rows) {
        body.push("<tr><td>" + esc(label(row.interval_start)) + "</td><td>" + esc(keyOf(row, view).label) + "</td>" +
          cells(kind, row, view, row.interval_start) + "</tr>");
      }
    }
    for (const row of report.totals) {
      body.push('<tr class="total">' + (report.interval !== "total" ? "<td>" + esc(t("reports.totals")) + "</td>" : "") +
        "<td>" + esc(keyOf(row, view).label) + "</td>" + cells(kind, row, view, null) + "</tr>");
    }
    if (report.overall && Object.keys(report.overall).length && view !== "all") {
      body.push('<tr class="total">' + (report.interval !== "total" ? "<td>" + esc(t("reports.overall")) + "</td>" : "") +
        "<td>" + esc(t("reports.overall")) + "</td>" + cells(kind, report.overall, "all", null) + "</tr>");
    }
    $("report").querySelector("tbody").innerHTML = body.join("") ||
      '<tr><td colspan="20" class="muted">' + esc(t("reports.no_data")) + "</td></tr>";
  }

  async function drill(link) {
    const extra = { metric: link.dataset.metric, interval_start: link.dataset.interval };
    const q = query(extra);
    if (link.dataset.key) {
      const [name, value] = link.dataset.key.split("=");
      if (name === "queue_id" || name === "agent_id") q.delete(name);
      q.set(name, value);
    }
    const result = await api("GET", "/api/v1/reports/contacts?" + q.toString());
    const columns = ["contact_id", "queue_name", "channel", "outcome", "agent_name", "queued_at", "answered_at", "wait_s",
      "talk_s", "hold_s", "acw_s", "handle_s", "disposition", "csat"];
    $("drill-title").textContent = t("reports.drill.title", { metric: link.dataset.label });
    $("drill-count").textContent = t("reports.drill.more", { shown: result.legs.length, total: result.total });
    $("drill-table").querySelector("thead").innerHTML = "<tr>" +
      columns.map((c) => "<th>" + esc(t("report.col." + c)) + "</th>").join("") + "</tr>";
    const show = (c, v) => (v == null ? "—" : c.endsWith("_at") ? String(v).replace("T", " ").slice(0, 19)
      : c === "outcome" ? t("report.outcome." + v) : c.endsWith("_s") ? (Math.round(v * 10) / 10).toFixed(1) : v);
    $("drill-table").querySelector("tbody").innerHTML = result.legs.map((leg) => "<tr>" +
      columns.map((c) => "<td>" + esc(show(c, leg[c])) + "</td>").join("") + "</tr>").join("");
    $("drill").classList.remove("hidden");
  }

  async function load() {
    const kind = $("kind").value;
    const q = query();
    history.replaceState(null, "", "?kind=" + kind + "&" + q.toString());
    const report = await api("GET", "/api/v1/reports/" + kind + "?" + q.toString());
    $("timezone").textContent = t("reports.timezone", { zone: report.timezone });
    $("definitions").innerHTML = report.definitions.map((d) => "<li><strong>" +
      esc(boot.lang === "ja" && d.queue_name_ja ? d.queue_name_ja : d.queue_name) + "</strong>: " +
      esc(boot.lang === "ja" ? d.text_ja : d.text_en) + "</li>").join("");
    $("charts").innerHTML = CHARTS[kind].map((name) => '<img alt="' + esc(t("reports.chart." + name)) +
      '" src="/api/v1/reports/charts/' + name + ".svg?" + esc(q.toString()) + '">').join("");
    renderTable(kind, report);
    $("export").href = "/api/v1/reports/" + kind + ".csv?" + q.toString();
    $("export-contacts").href = "/api/v1/reports/contacts.csv?" + q.toString();
  }

  function fillViews() {
    const kind = $("kind").value;
    const current = $("view").value;
    $("view").innerHTML = VIEWS[kind].map((v) => '<option value="' + v + '">' + esc(t("reports.view." + v)) + "</option>").join("");
    if (VIEWS[kind].includes(current)) $("view").value = current;
  }

  async function init() {
    const url = new URLSearchParams(location.search);
    $("kind").value = VIEWS[url.get("kind")] ? url.get("kind") : "queues";
    fillViews();
    $("start").value = url.get("start") || today();
    $("end").value = url.get("end") || $("start").value;
    if (url.get("interval")) $("interval").value = url.get("interval");
    if (url.get("view")) $("view").value = url.get("view");
    $("channel").innerHTML += (boot.channels || []).map((c) => '<option value="' + esc(c) + '">' + esc(t("channel." + c)) +
      "</option>").join("");
    const [queues, teams] = await Promise.all([api("GET", "/api/v1/queues"), api("GET", "/api/v1/teams").catch(() => [])]);
    const chosen = new Set(url.getAll("queue_id"));
    $("queue").innerHTML = queues.map((q) => '<option value="' + q.id + '"' + (chosen.has(String(q.id)) ? " selected" : "") + ">" +
      esc(boot.lang === "ja" && q.name_ja ? q.name_ja : q.name) + "</option>").join("");
    $("team").innerHTML += teams.map((tm) => '<option value="' + tm.id + '">' + esc(tm.name) + "</option>").join("");
    if (url.get("channel")) $("channel").value = url.get("channel");
    if (url.get("team_id")) $("team").value = url.get("team_id");
    await load();
  }

  $("kind").addEventListener("change", () => { fillViews(); load().catch((e) => alert(e.message)); });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load().catch((e) => alert(e.message)); });
  $("report").addEventListener("click", (event) => {
    const link = event.target.closest("a.drill");
    if (link) { event.preventDefault(); drill(link).catch((e) => alert(e.message)); }
  });
  $("drill-close").addEventListener("click", () => $("drill").classList.add("hidden"));
  init().catch((e) => alert(e.message));
})();
