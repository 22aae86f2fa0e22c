// The status page's script: follows /ui/stream (Server-Sent Events; the browser reconnects by itself)
// and renders each snapshot. Plain DOM, no library; only the rows that fit a screen-full or two are
// drawn (the filter finds the others), so 2000 caches stay fast.
"use strict";
(function () {
  var MAX_ROWS = 300;
  var state = null;
  var sort = { column: "bad", descending: true };
  var cacheHistory = []; // a cache's own rates, from successive snapshots
  var headers = { name: "Cache", state: "State", keys: "Keys", lag: "Keys behind", lost: "Lost/s", fec: "FEC/s", repaired: "Repairs/s", repairFailures: "Repair failures/s", objects: "Objects", bytes: "Bytes", ageMs: "Last report", silent: "Group", address: "Address", alerts: "Alerts" };
  var numeric = { lag: 1, lost: 1, fec: 1, repaired: 1, repairFailures: 1, objects: 1, bytes: 1, ageMs: 1, alerts: 1 };

  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
  function bytes(n) { if (n == null) return "?"; var u = ["B", "KiB", "MiB", "GiB", "TiB"]; var i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i === 0 ? n : n.toFixed(1)) + " " + u[i]; }
  function age(ms) { return ms < 10000 ? (ms / 1000).toFixed(1) + " s ago" : ms < 120000 ? Math.round(ms / 1000) + " s ago" : Math.round(ms / 60000) + " min ago"; }
  function time(at) { return new Date(at).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }
  function card(label, value, bad) { return '<div class="card' + (bad ? " bad" : "") + '"><b>' + esc(value) + "</b>" + esc(label) + "</div>"; }

  // How bad a cache row is: stale, then with alerts, silent, behind, repairing; higher is worse.
  function badness(r) { return (r.state === "stale" ? 1e9 : 0) + r.alerts * 1e7 + (r.silent ? 1e6 : 0) + r.lag * 1e4 + r.repairFailures * 100 + r.repaired + r.lost / 1000; }

  function rowsOf(s) {
    var cols = s.columns;
    return s.caches.map(function (a) { var r = {}; for (var i = 0; i < cols.length; i++) r[cols[i]] = a[i]; r.bad = badness(r); return r; });
  }

  function chart(points, series) {
    if (points.length < 2) return '<p class="none">collecting…</p>';
    var w = 600, h = 120, t0 = points[0][0], t1 = points[points.length - 1][0], max = 1;
    series.forEach(function (se) { points.forEach(function (p) { if (p[se.index] > max) max = p[se.index]; }); });
    var lines = series.map(function (se) {
      var pts = points.map(function (p) { return ((p[0] - t0) / Math.max(1, t1 - t0) * w).toFixed(1) + "," + (h - p[se.index] / max * (h - 4) - 2).toFixed(1); }).join(" ");
      return '<polyline fill="none" stroke="' + se.color + '" stroke-width="1.5" points="' + pts + '"/>';
    }).join("");
    var last = points[points.length - 1];
    var legend = series.map(function (se) { return '<span style="color:' + se.color + '">■ ' + esc(se.name) + " " + last[se.index] + "/s</span>"; }).join("");
    var label = "Rates over the last " + Math.round((t1 - t0) / 60000 * 10) / 10 + " minutes, largest " + max + " per second";
    return '<svg role="img" aria-label="' + esc(label) + '" viewBox="0 0 ' + w + " " + h + '" width="' + w + '" height="' + h + '">' + lines + '</svg><div class="legend">' + legend + " (scale 0–" + max + "/s)</div>";
  }

  function table(head, rows) {
    if (rows.length === 0) return '<p class="none">none</p>';
    return "<table><thead><tr>" + head.map(function (h) { return '<th scope="col">' + esc(h) + "</th>"; }).join("") + "</tr></thead><tbody>" + rows.map(function (r) { return "<tr>" + r.map(function (c) { return "<td>" + esc(c) + "</td>"; }).join("") + "</tr>"; }).join("") + "</tbody></table>";
  }

  // Grouped by rule; the snapshot carries at most 20 of each, counts says how many there are.
  function renderAlerts(alerts, counts) {
    if (alerts.length === 0) { $("alerts").innerHTML = '<p class="none" id="no-alerts">no active alert</p>'; return; }
    var rules = [], byRule = {};
    alerts.forEach(function (a) { if (!byRule[a.rule]) { byRule[a.rule] = []; rules.push(a.rule); } byRule[a.rule].push(a); });
    $("alerts").innerHTML = rules.map(function (rule) {
      var list = byRule[rule], total = counts && counts[rule] ? counts[rule] : list.length, shown = list.slice(0, 10);
      return '<h3 class="' + list[0].severity + '">' + esc(list[0].severity + " " + rule) + ": " + total + '</h3><ul class="alerts">' + shown.map(function (a) {
        return '<li class="' + a.severity + '" data-alert="' + esc(a.id) + '"><b>' + esc(a.subject) + "</b>: " + esc(a.summary) + " (since " + esc(time(a.since)) + ")</li>";
      }).join("") + (total > shown.length ? '<li class="none">and ' + (total - shown.length) + ' more: "Show: only with problems" below lists them</li>' : "") + "</ul>";
    }).join("");
  }

  function renderFarm(s) {
    var rows = rowsOf(s);
    var text = $("filter").value.trim().toLowerCase();
    var show = $("show").value;
    rows = rows.filter(function (r) {
      if (show === "stale" && r.state !== "stale") return false;
      if (show === "ok" && r.state !== "ok") return false;
      if (show === "bad" && r.bad < 1) return false;
      return text === "" || r.name.toLowerCase().indexOf(text) >= 0 || r.keys.toLowerCase().indexOf(text) >= 0 || r.address.indexOf(text) >= 0;
    });
    var c = sort.column;
    rows.sort(function (a, b) {
      var x = a[c], y = b[c];
      var d = typeof x === "number" ? x - y : x === y ? 0 : x < y ? -1 : 1;
      if (sort.descending) d = -d;
      return d !== 0 ? d : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    var shown = rows.slice(0, MAX_ROWS);
    $("shown").textContent = "showing " + shown.length + " of " + rows.length + " matching (" + s.caches.length + " caches)" + (rows.length > MAX_ROWS ? "; refine the filter to see the others" : "");
    var cols = s.columns;
    var head = cols.map(function (col) {
      var sorted = sort.column === col ? (sort.descending ? "descending" : "ascending") : "none";
      return '<th scope="col"' + (numeric[col] ? ' class="n"' : "") + ' aria-sort="' + sorted + '"><button type="button" data-sort="' + col + '">' + esc(headers[col] || col) + (sorted === "none" ? "" : sorted === "descending" ? " ▼" : " ▲") + "</button></th>";
    }).join("");
    var body = shown.map(function (r) {
      var cls = r.state === "stale" ? "stale" : r.bad >= 1 ? "warn" : "";
      return '<tr class="' + cls + '" data-cache="' + esc(r.name) + '" data-state="' + r.state + '">' + cols.map(function (col) {
        var v = r[col];
        if (col === "bytes") v = bytes(v);
        else if (col === "ageMs") v = age(v);
        else if (col === "silent") v = v ? "silent" : "ok";
        return "<td" + (numeric[col] ? ' class="n"' : "") + ">" + esc(v) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    $("farm").innerHTML = '<table id="farm-table"><caption class="none">Bad ones first (stale, alerts, silent group, behind, repairing); click a heading to sort.</caption><thead><tr>' + head + "</tr></thead><tbody>" + body + "</tbody></table>";
  }

  function renderRepository(s) {
    var m = s.summary;
    $("summary").innerHTML = '<div class="cards" data-caches="' + m.caches + '" data-stale="' + m.stale + '">' + card("caches", m.caches) + card("ok", m.ok) + card("stale", m.stale, m.stale > 0) + card("group silent", m.silent, m.silent > 0) + card("behind a key", m.behind, m.behind > 0) + card("active alerts", m.alerts, m.alerts > 0) + "</div>";
    renderAlerts(s.alerts, s.alertCounts);
    $("chart").innerHTML = chart(s.rates, [{ name: "repairs", index: 4, color: "#b00020" }, { name: "lost datagrams", index: 2, color: "#8a5300" }, { name: "FEC fragments", index: 3, color: "#1a73e8" }]);
    renderFarm(s);
    $("keys").innerHTML = table(["Keytable", "Current key", "Caches on it", "Behind", "Recent keys (caches holding)"], s.keytables.map(function (k) {
      return [k.keytable, k.key, k.caches - k.laggingCount + " of " + k.caches, k.laggingCount, k.keys.map(function (x) { return x.key + ": " + x.held; }).join(", ")];
    }));
    $("runs").innerHTML = table(["Run", "Keytable/key", "Started", "Distribution", "Caches holding its key"], s.runs.map(function (r) { return [r.run, r.keytable + "/" + r.key, time(r.startedAt), r.distribution, r.held + " of " + r.caches]; }));
    $("changes").innerHTML = table(["Sequence", "Action", "Path", "When"], s.changes.map(function (c) { return [c.sequence, c.action + (c.keytable ? " " + c.keytable + "/" + c.key : ""), c.path, time(c.changedAt)]; }));
    var h = s.health;
    $("health").innerHTML = table(["Store", "Objects", "Bytes", "Multicast backlog", "Disk free", "5xx answers"], [[h.store, h.objects, bytes(h.bytes), bytes(h.backlogBytes) + " of " + bytes(h.backlogMaxBytes), h.diskFreeBytes == null ? "?" : bytes(h.diskFreeBytes) + " of " + bytes(h.diskSizeBytes), h.serverErrors]]);
    $("events").innerHTML = table(["When", "Event", "Alert", "Summary"], s.recent.map(function (e) { return [time(e.at), e.status, e.alert.rule + " " + e.alert.subject, e.alert.summary]; }));
  }

  function renderCache(s) {
    var c = s.counters, prev = cacheHistory.length > 0 ? cacheHistory[cacheHistory.length - 1] : null;
    if (prev === null || s.at > prev.at) {
      var dt = prev === null ? 0 : (s.at - prev.at) / 1000;
      var rate = function (k) { return dt > 0 ? Math.round(Math.max(0, c[k] - prev.counters[k]) / dt * 100) / 100 : 0; };
      cacheHistory.push({ at: s.at, counters: c, point: [s.at, rate("datagrams"), rate("lost"), rate("fec"), rate("repaired")] });
      while (cacheHistory.length > 600) cacheHistory.shift();
    }
    var group = s.multicastGroup || {};
    $("summary").innerHTML = '<div class="cards">' + card("health", s.health.status, s.health.status !== "ok") + card("objects", s.objects) + card("held", bytes(s.bytes) + " of " + bytes(s.budgetBytes)) + card("group", group.episode ? "silent" : "ok", !!group.episode) + "</div>";
    renderAlerts(s.health.reasons.map(function (r, i) { return { id: "health-" + i, severity: "warning", rule: "health", subject: "this cache", summary: r, since: s.at }; }), null);
    $("chart").innerHTML = chart(cacheHistory.slice(1).map(function (h) { return h.point; }), [{ name: "repairs", index: 4, color: "#b00020" }, { name: "lost datagrams", index: 2, color: "#8a5300" }, { name: "FEC fragments", index: 3, color: "#1a73e8" }]);
    $("keys").innerHTML = table(["Keytable", "Key"], (s.keys || []).map(function (k) { return [k.keytable, k.key]; }));
    $("health").innerHTML = table(Object.keys(c), [Object.keys(c).map(function (k) { return c[k]; })]) + table(["Upstream", "Counters"], [[(s.upstream && s.upstream.urls || []).join(", "), JSON.stringify(s.upstream || {})]]);
  }

  function render() {
    if (state === null) return;
    if (state.role === "repository") renderRepository(state);
    else renderCache(state);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.dataset.role === "cache") ["farm-section", "runs-section", "changes-section", "events-section"].forEach(function (id) { $(id).hidden = true; });
    $("filter").addEventListener("input", function () { if (state) renderFarm(state); });
    $("show").addEventListener("change", function () { if (state) renderFarm(state); });
    $("farm").addEventListener("click", function (e) {
      var b = e.target.closest("button[data-sort]");
      if (!b) return;
      var col = b.dataset.sort;
      sort = sort.column === col ? { column: col, descending: !sort.descending } : { column: col, descending: !!numeric[col] };
      renderFarm(state);
      var again = document.querySelector('button[data-sort="' + col + '"]');
      if (again) again.focus();
    });
    var source = new EventSource("/ui/stream");
    source.addEventListener("state", function (e) {
      state = JSON.parse(e.data);
      $("connection").className = "";
      $("connection").textContent = "live, updated " + time(state.at);
      render();
    });
    source.onerror = function () { $("connection").className = "down"; $("connection").textContent = "connection lost, reconnecting…"; };
  });
})();
