package handlers_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestJobPageBrowserMeasure is a measurement, not a test of speed: with
// MOVEWIZARD_MEASURE=1 it opens the job page of 1,000 and 10,000 mailboxes
// in headless Chromium while the job's running moves publish about 2,000
// updates a second, and prints what the browser saw: the longest task
// (PerformanceObserver "longtask", 50 ms and more), how late a 50 ms timer
// fires (p90), the events and rows it received per second, and the page's
// size and server time. It asserts nothing about time; it fails only if the
// page does not go live. Run by .ci/jobpage-measure.sh.
func TestJobPageBrowserMeasure(t *testing.T) {
	if os.Getenv("MOVEWIZARD_MEASURE") == "" {
		t.Skip("a measurement; set MOVEWIZARD_MEASURE=1 (.ci/jobpage-measure.sh)")
	}
	for _, n := range []int{1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { measureJobPage(t, n) })
	}
}

// measureProbe is installed before the page's own script: it records long
// tasks, timer lateness and the events live.js receives.
const measureProbe = `
window.__m = {longest: 0, longTasks: 0, streamLongest: 0, streamLongTasks: 0, lags: [], events: 0, rows: 0, start: 0};
try {
  new PerformanceObserver(function (l) {
    l.getEntries().forEach(function (e) {
      __m.longTasks++; __m.longest = Math.max(__m.longest, e.duration);
      // After the snapshot arrived: while updates stream.
      if (__m.start && e.startTime >= __m.start) { __m.streamLongTasks++; __m.streamLongest = Math.max(__m.streamLongest, e.duration); }
    });
  }).observe({type: "longtask", buffered: true});
} catch (e) {}
(function () {
  var last = performance.now();
  setInterval(function () { var now = performance.now(); if (__m.start) __m.lags.push(now - last - 50); last = now; }, 50);
  var ES = window.EventSource;
  window.EventSource = function (u) {
    var es = new ES(u);
    ["snapshot", "update"].forEach(function (name) {
      es.addEventListener(name, function (e) { if (!__m.start) __m.start = performance.now(); __m.events++; __m.rows += JSON.parse(e.data).moves.length; });
    });
    return es;
  };
})();
`

type measureResult struct {
	Longest   float64 `json:"longest"`
	LongTasks int     `json:"longTasks"`
	// StreamLongest and StreamLongTasks count only tasks after the
	// snapshot arrived, while updates stream.
	StreamLongest   float64 `json:"streamLongest"`
	StreamLongTasks int     `json:"streamLongTasks"`
	LagP90          float64 `json:"lagP90"`
	Events          int     `json:"events"`
	Rows            int     `json:"rows"`
	Seconds         float64 `json:"seconds"`
	HTML            int     `json:"html"`
	ServerMS        float64 `json:"serverMS"`
}

func measureJobPage(t *testing.T, n int) {
	a := newScaleApp(t, n)
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: measureProbe}); err != nil {
		t.Fatal(err)
	}

	// The running moves publish 2,000 updates a second, as the issue saw,
	// and commit their progress once a second each.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	published := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		running := a.moves[:scaleRunning]
		lastSave := time.Now()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for k := 0; k < 10; k++ { // 10 per 5 ms
				m := &running[(i*10+k)%len(running)]
				m.BytesDone = m.BytesTotal/2 + int64(i%1000)*512
				m.MsgsDone = m.MsgsTotal/2 + int64(i%100)
				a.broker.Publish(*m)
				published++
			}
			if time.Since(lastSave) >= time.Second {
				lastSave = time.Now()
				for _, m := range running {
					if err := a.db.SaveMove(ctx, m); err != nil && ctx.Err() == nil {
						t.Errorf("SaveMove: %v", err)
					}
				}
			}
		}
	}()
	started := time.Now()
	defer func() { stop(); wg.Wait() }()

	b.open(fmt.Sprintf("/jobs/%d", a.job.ID))
	browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })
	time.Sleep(10 * time.Second)
	r := browserEval[measureResult](b, `(function () {
		var lags = __m.lags.slice().sort(function (x, y) { return x - y; });
		var nav = performance.getEntriesByType("navigation")[0];
		return {longest: __m.longest, longTasks: __m.longTasks, streamLongest: __m.streamLongest, streamLongTasks: __m.streamLongTasks, lagP90: lags[Math.floor(lags.length * 0.9)] || 0,
			events: __m.events, rows: __m.rows, seconds: (performance.now() - __m.start) / 1000,
			html: nav ? nav.decodedBodySize : 0, serverMS: nav ? nav.responseStart - nav.requestStart : 0};
	})()`)
	elapsed := time.Since(started).Seconds()
	if r.Events < 2 {
		t.Fatalf("the page received %d events in %.1f s, want a snapshot and updates", r.Events, r.Seconds)
	}
	t.Logf("job of %d mailboxes: HTML %d bytes, first byte after %.1f ms; broker %.0f updates/s; browser received %.2f events/s, %.1f rows/s; while streaming: longest task %.0f ms (%d of 50 ms or more), 50 ms timer late by %.1f ms at p90; with the page load: longest task %.0f ms (%d)",
		n, r.HTML, r.ServerMS, float64(published)/elapsed, float64(r.Events)/r.Seconds, float64(r.Rows)/r.Seconds,
		r.StreamLongest, r.StreamLongTasks, r.LagP90, r.Longest, r.LongTasks)
}
