// Live job page: subscribes to /jobs/{id}/events?ids=... (server-sent
// events) for the rows the page shows (data-live-ids) and updates them in place. The server
// sends a "snapshot" first and then at most one "update" per second, each a
// batch: {moves: [changed rows], totals: the whole job's (when changed),
// job: its state (when changed)}. EventSource reconnects by itself and the
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
  // "Select every mailbox of this page" needs script; without it the
  // checkboxes are ticked one by one.
  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      var boxes = document.querySelectorAll("input[type=checkbox][form=bulk]");
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = all.checked;
    });
  }
  var table = document.querySelector("[data-live-job]");
  if (!table || !window.EventSource) return;
  var url = table.getAttribute("data-live-job") + "?ids=" + encodeURIComponent(table.getAttribute("data-live-ids") || "");
  var status = document.querySelector("[data-testid=live-status]");
  var rows = {};
  var trs = table.querySelectorAll("tr[data-move]");
  for (var i = 0; i < trs.length; i++) rows[trs[i].getAttribute("data-move")] = trs[i];
  function setText(row, key, value) {
    var el = row.querySelector("[data-field=" + key + "]");
    if (el && el.textContent !== value) el.textContent = value;
  }
  function byTestID(id) { return document.querySelector("[data-testid=" + id + "]"); }
  function setID(id, value) { var el = byTestID(id); if (el && el.textContent !== value) el.textContent = value; }
  // stateLabel is model.MoveState.Label: a state as the page shows it.
  var stateLabels = { synced: "synced, waiting to complete" };
  function stateLabel(state) { return stateLabels[state] || state; }
  // pillText is web.StateCount.Text.
  function pillText(c) { return c.state === "synced" ? c.count + " synced, waiting" : c.state + " " + c.count; }
  function apply(p) {
    var row = rows[String(p.move_id)];
    if (!row) return;
    row.setAttribute("data-state", p.state);
    var st = row.querySelector("[data-field=state]");
    if (st) { st.textContent = stateLabel(p.state); st.className = "state state-" + p.state; }
    setText(row, "phase", p.phase || "");
    setText(row, "folder", p.folder || "");
    setText(row, "msgs", p.msgs_done + " / " + p.msgs_total);
    setText(row, "bytes", format.bytes(p.bytes_done) + " / " + format.bytes(p.bytes_total));
    setText(row, "rate", format.rate(p.rate));
    setText(row, "eta", format.duration(p.eta_seconds));
    setText(row, "skipped", String(p.skipped));
    setText(row, "error", p.error || "");
    var bar = row.querySelector("[data-field=bar]");
    if (bar) {
      // A <progress> needs no style (CSP allows none inline): max and value.
      bar.max = p.bytes_total > 0 ? p.bytes_total : 1;
      bar.value = p.bytes_total > 0 ? Math.min(p.bytes_done, p.bytes_total) : (p.state === "done" ? 1 : 0);
    }
    // An action is shown in the states of its data-when, and not in the
    // phases of its data-unless-phase (Cancel, past the cut-over).
    var actions = row.querySelectorAll("[data-when]");
    for (var i = 0; i < actions.length; i++) {
      var when = actions[i].getAttribute("data-when").split(" ");
      var unless = (actions[i].getAttribute("data-unless-phase") || "").split(" ");
      actions[i].hidden = when.indexOf(p.state) < 0 || (!!p.phase && unless.indexOf(p.phase) >= 0);
    }
  }
  // The totals are the whole job's, summed by the server: the page shows
  // only some of its rows.
  function totals(t) {
    var bar = byTestID("job-bar");
    if (bar) { bar.max = Number(t.bar_max); bar.value = Number(t.bar_value); }
    setID("job-percent", t.percent);
    setID("job-rate", format.rate(t.rate));
    setID("job-eta", format.duration(t.eta_seconds));
    setID("total-mailboxes", t.mailboxes === 1 ? "1 mailbox" : t.mailboxes + " mailboxes");
    setID("total-msgs", t.msgs_done + " of " + t.msgs_total);
    setID("total-bytes", format.bytes(t.bytes_done) + " of " + format.bytes(t.bytes_total));
    setID("total-skipped", String(t.skipped));
    var states = byTestID("total-states");
    if (states) {
      while (states.firstChild) states.removeChild(states.firstChild);
      t.by_state.forEach(function (c) {
        var pill = document.createElement("span");
        pill.className = "pill state-" + c.state;
        pill.setAttribute("data-testid", "count-" + c.state);
        pill.textContent = pillText(c);
        states.appendChild(pill);
        states.appendChild(document.createTextNode(" "));
      });
    }
  }
  function job(j) {
    var el = byTestID("job-state");
    if (el) { el.textContent = j.state.replace(/-/g, " "); el.className = "state state-" + j.state; }
    var starts = byTestID("job-starts");
    if (starts && j.state !== "queued") starts.hidden = true;
    var started = byTestID("job-started");
    if (started && j.started_at) started.textContent = j.started_at;
    var finished = byTestID("job-finished");
    if (finished) finished.textContent = j.finished_at || "";
    var acts = document.querySelectorAll("[data-job-when]");
    for (var i = 0; i < acts.length; i++) {
      acts[i].hidden = acts[i].getAttribute("data-job-when").split(" ").indexOf(j.state) < 0;
    }
  }
  function batch(e) {
    var b = JSON.parse(e.data);
    b.moves.forEach(apply);
    if (b.totals) totals(b.totals);
    if (b.job) job(b.job);
  }
  // The stream is closed when the page is left: a browser holds few
  // connections per server (six over HTTP/1.1), and a stream kept open by a
  // page in the back-forward cache would hold one of them. A page shown
  // again from that cache connects anew and gets a fresh snapshot.
  var es = null;
  function connect() {
    es = new EventSource(url);
    es.addEventListener("snapshot", function (e) {
      batch(e);
      if (status) status.textContent = "live";
    });
    es.addEventListener("update", batch);
    es.onerror = function () { if (status) status.textContent = "reconnecting…"; };
  }
  window.addEventListener("pagehide", function () { if (es) { es.close(); es = null; } });
  window.addEventListener("pageshow", function (e) { if (e.persisted && !es) connect(); });
  connect();
})();
