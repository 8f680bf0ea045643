// Live job page: subscribes to /jobs/{id}/events (server-sent events) and
// updates each mailbox row in place. The server sends a snapshot first and
// named "move" events after; EventSource reconnects by itself and the
// server sends a fresh snapshot then. Every value is set with textContent,
// never as HTML: subjects and folder names come from users' mail.
//
// Times are not formatted here: the server sends them as the page shows
// them (web/format.Time). Bytes, rates and durations are, by the copy of
// web/format below, which gives the same strings as the Go code for the
// same input (web/format/format_browser_test.go checks it in Chromium).
(function () {
  "use strict";
  // format is web/format's Bytes, Rate and Duration: binary units, one
  // decimal rounded half up in integer arithmetic (exact for every count up
  // to Number.MAX_SAFE_INTEGER), never "1024.0" of a unit.
  var format = (function () {
    var units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    function tenths(n, div) {
      var q = Math.floor(n / div), r = n - q * div;
      return q * 10 + Math.floor((r * 10 + div / 2) / div);
    }
    function bytes(n) {
      n = Number(n) || 0;
      n = n < 0 ? Math.ceil(n) : Math.floor(n);
      if (n < 1024) return String(n) + " B";
      var i = 0, div = 1024;
      while (i < units.length - 1 && Math.floor(n / div) >= 1024) { div *= 1024; i++; }
      var t = tenths(n, div);
      if (t >= 10240 && i < units.length - 1) { div *= 1024; i++; t = tenths(n, div); }
      return Math.floor(t / 10) + "." + (t % 10) + " " + units[i];
    }
    function rate(r) {
      return r > 0 ? bytes(Math.floor(r)) + "/s" : "";
    }
    function duration(s) {
      s = Math.round(Number(s) || 0);
      if (s <= 0) return "";
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
      return (h ? h + "h " : "") + (h || m ? m + "m " : "") + r + "s";
    }
    return { bytes: bytes, rate: rate, duration: duration };
  })();
  window.movewizardFormat = format;
  var table = document.querySelector("[data-live-job]");
  if (!table || !window.EventSource) return;
  var url = table.getAttribute("data-live-job");
  var status = document.querySelector("[data-testid=live-status]");
  function setText(row, key, value) {
    var el = row.querySelector("[data-field=" + key + "]");
    if (el) el.textContent = value;
  }
  function apply(p) {
    var row = table.querySelector("tr[data-move='" + p.move_id + "']");
    if (!row) return;
    row.setAttribute("data-state", p.state);
    var st = row.querySelector("[data-field=state]");
    if (st) { st.textContent = p.state; st.className = "state state-" + p.state; }
    setText(row, "phase", p.phase || "");
    setText(row, "folder", p.folder || "");
    setText(row, "msgs", p.msgs_done + " / " + p.msgs_total);
    setText(row, "bytes", format.bytes(p.bytes_done) + " / " + format.bytes(p.bytes_total));
    setText(row, "rate", format.rate(p.rate));
    setText(row, "eta", format.duration(p.eta_seconds));
    setText(row, "skipped", String(p.skipped));
    setText(row, "error", p.error || "");
    var bar = row.querySelector("[data-field=bar]");
    if (bar && bar.tagName === "PROGRESS") {
      // A <progress> needs no style (CSP allows none inline): max and value.
      bar.max = p.bytes_total > 0 ? p.bytes_total : 1;
      bar.value = p.bytes_total > 0 ? Math.min(p.bytes_done, p.bytes_total) : (p.state === "done" ? 1 : 0);
    } else if (bar) {
      var pct = p.bytes_total > 0 ? Math.min(100, 100 * p.bytes_done / p.bytes_total) : (p.state === "done" ? 100 : 0);
      bar.style.width = pct.toFixed(1) + "%";
    }
    var actions = row.querySelectorAll("[data-when]");
    for (var i = 0; i < actions.length; i++) {
      var when = actions[i].getAttribute("data-when").split(" ");
      actions[i].hidden = when.indexOf(p.state) < 0;
    }
  }
  // Totals are summed from the latest state of every row.
  var latest = {};
  function totals() {
    var t = { msgs: 0, msgsTotal: 0, bytes: 0, bytesTotal: 0, skipped: 0, states: {} }, n = 0;
    Object.keys(latest).forEach(function (id) {
      var p = latest[id];
      t.msgs += p.msgs_done; t.msgsTotal += p.msgs_total;
      t.bytes += p.bytes_done; t.bytesTotal += p.bytes_total;
      t.skipped += p.skipped; t.states[p.state] = (t.states[p.state] || 0) + 1; n++;
    });
    if (!n) return;
    var set = function (id, v) { var el = document.querySelector("[data-testid=" + id + "]"); if (el) el.textContent = v; };
    set("total-msgs", t.msgs + " of " + t.msgsTotal);
    set("total-bytes", format.bytes(t.bytes) + " of " + format.bytes(t.bytesTotal));
    set("total-skipped", String(t.skipped));
    var states = document.querySelector("[data-testid=total-states]");
    if (states) {
      while (states.firstChild) states.removeChild(states.firstChild);
      Object.keys(t.states).sort().forEach(function (s) {
        var pill = document.createElement("span");
        pill.className = "pill";
        pill.textContent = s + " " + t.states[s];
        states.appendChild(pill);
        states.appendChild(document.createTextNode(" "));
      });
    }
  }
  var es = new EventSource(url);
  es.addEventListener("snapshot", function (e) {
    JSON.parse(e.data).forEach(function (p) { latest[p.move_id] = p; apply(p); });
    totals();
    if (status) status.textContent = "live";
  });
  es.addEventListener("move", function (e) {
    var p = JSON.parse(e.data);
    latest[p.move_id] = p;
    apply(p);
    totals();
  });
  es.addEventListener("job", function (e) {
    var j = JSON.parse(e.data), el = document.querySelector("[data-testid=job-state]");
    if (el) { el.textContent = j.state; el.className = "state state-" + j.state; }
    var started = document.querySelector("[data-testid=job-started]");
    if (started && j.started_at) started.textContent = j.started_at;
    var finished = document.querySelector("[data-testid=job-finished]");
    if (finished) finished.textContent = j.finished_at || "";
    var acts = document.querySelectorAll("[data-job-when]");
    for (var i = 0; i < acts.length; i++) {
      acts[i].hidden = acts[i].getAttribute("data-job-when").split(" ").indexOf(j.state) < 0;
    }
  });
  es.onerror = function () { if (status) status.textContent = "reconnecting…"; };
})();
