// Wizard summary: fills the preflight table from /wizard/preflight/events
// (server-sent events). One "preflight" event per user, then "done". Every
// value is set with textContent, never as HTML: names and error texts come
// from the directory and the mail servers.
(function () {
  "use strict";
  var table = document.querySelector("[data-preflight-events]");
  if (!table || !window.EventSource) return;
  var url = table.getAttribute("data-preflight-events");
  if (!url) return;
  var status = document.querySelector("[data-testid=preflight-status]");
  var rows = {};
  var trs = table.querySelectorAll("tr[data-preflight-uid]");
  for (var i = 0; i < trs.length; i++) rows[trs[i].getAttribute("data-preflight-uid")] = trs[i];
  var seen = 0, problems = 0, there = 0, total = trs.length;
  var classes = { ok: "state-done", problem: "state-failed", warning: "state-cancelled" };
  function set(row, key, value) {
    var el = row.querySelector("[data-field=" + key + "]");
    if (el) el.textContent = value == null ? "" : String(value);
    return el;
  }
  function progress(text) { if (status) status.textContent = text; }
  var es = new EventSource(url);
  es.addEventListener("preflight", function (e) {
    var p = JSON.parse(e.data), row = rows[p.uid];
    seen++;
    if (p.status === "problem") problems++;
    else if (p.already_there) there++;
    progress("Checking… " + seen + " of " + total + " done");
    if (!row) return;
    set(row, "name", p.name);
    set(row, "source", p.source);
    set(row, "count", p.count);
    set(row, "size", p.size);
    set(row, "quota", p.quota);
    set(row, "problems", p.problems);
    var st = set(row, "status", p.status);
    if (st) st.className = "state " + (classes[p.status] || "");
  });
  es.addEventListener("done", function (e) {
    var d = JSON.parse(e.data);
    es.close();
    // The same sentence as web.PreflightLine.
    var text = "Checked: " + (d.count - there - d.problems) + " ready";
    if (there > 0) text += ", " + there + " already there";
    text += ", " + d.problems + " with problems.";
    if (d.problems > 0) {
      text += " Remove them from the selection (or fix them and check again) to start.";
      var start = document.querySelector("[data-testid=start]");
      if (start) start.disabled = true;
      var remove = document.querySelector("[data-testid=remove-problems]");
      if (remove) remove.hidden = false;
    }
    progress(text);
  });
  es.onerror = function () {
    // A reconnect would check everyone again: stop and offer the link.
    es.close();
    progress("The preflight was interrupted after " + seen + " of " + total + " users; use the link to run it again.");
  };
})();
