// The desk table filters as you type; it and the market regimes refresh from /api/v1/status
// every 5 seconds.
(function () {
  "use strict";
  var table = document.getElementById("desk");
  var filter = document.getElementById("filter");
  if (!table || !filter) { return; }

  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var text = tr.textContent.toLowerCase();
      var shown = words.every(function (w) { return text.indexOf(w) >= 0; });
      tr.classList.toggle("hidden", !shown);
    });
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function money(version, allocation) {
    return version ? "v" + version + " @ " + Math.round(allocation).toLocaleString("en-US") : "-";
  }

  function pill(kind, value, title) {
    var td = document.createElement("td");
    if (!value) { td.textContent = "-"; return td; }
    var span = document.createElement("span");
    span.className = "pill " + kind + "-" + value;
    span.title = title || "";
    span.textContent = value;
    td.appendChild(span);
    return td;
  }

  function render(rows) {
    var body = table.querySelector("tbody");
    var fresh = document.createElement("tbody");
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.key = r.strategy + "/" + r.stage;
      var name = document.createElement("td");
      var link = document.createElement("a");
      link.href = "/strategies/" + encodeURIComponent(r.strategy);
      link.textContent = r.strategy;
      name.appendChild(link);
      tr.appendChild(name);
      tr.appendChild(cell(r.stage));
      tr.appendChild(cell(money(r.desired_version, r.desired_allocation)));
      tr.appendChild(cell(money(r.running_version, r.running_allocation)));
      tr.appendChild(pill("sync", r.sync, r.sync_reason));
      tr.appendChild(pill("health", r.health, r.health_detail));
      var step = r.canary_step === null ? "" : " (step " + r.canary_step + ")";
      tr.appendChild(cell((r.canary_phase || "-") + step));
      tr.appendChild(cell(r.recon_breaks === null ? "-" : String(r.recon_breaks)));
      tr.appendChild(cell(r.alerts === null ? "-" : (r.alerts.join(", ") || "none")));
      tr.appendChild(cell(r.last_event || "-"));
      fresh.appendChild(tr);
    });
    body.replaceWith(fresh);
    applyFilter();
  }

  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  function renderMarkets(markets) {
    var found = document.getElementById("markets");
    if (!found) { return; }
    var fresh = document.createElement("tbody");
    markets.forEach(function (m) {
      var tr = document.createElement("tr");
      tr.dataset.market = m.venue + "/" + m.symbol;
      tr.appendChild(cell(m.venue));
      tr.appendChild(cell(m.symbol));
      tr.appendChild(pill("regime", m.regime, m.note));
      tr.appendChild(cell(m.overlays.length ? m.overlays.join(", ") : "-"));
      tr.appendChild(cell(m.liquidity_ratio === null ? "-" : m.liquidity_ratio.toFixed(2)));
      var hour = m.hour_of_week;
      tr.appendChild(cell(hour === null ? "-" : WEEKDAYS[Math.floor(hour / 24)] + " " +
        String(hour % 24).padStart(2, "0") + ":00"));
      tr.appendChild(cell(m.dataset ? m.dataset + " " + m.profile_digest.slice(0, 12) : m.note));
      fresh.appendChild(tr);
    });
    found.querySelector("tbody").replaceWith(fresh);
  }

  function refresh() {
    fetch("/api/v1/status", { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (status) {
        if (!status) { return; }
        render(status.rows);
        renderMarkets(status.markets);
        var updated = document.getElementById("updated");
        if (updated) { updated.textContent = status.at; }
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  filter.addEventListener("input", applyFilter);
  applyFilter();
  setInterval(refresh, 5000);
})();
