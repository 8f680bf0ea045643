package format_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/testserver"
	"github.com/movewizard/movewizard/static"
	"github.com/movewizard/movewizard/web/format"
)

// TestFormatBrowserAgrees loads the live.js that the binary serves into
// headless Chromium and checks that its copy of this package
// (window.movewizardFormat) gives the strings of testdata/format.json and
// the same strings as Bytes, Rate and Duration for many more inputs: every
// unit boundary and its neighbours, the rounding ties, and random counts up
// to 2^53 (JavaScript's exact integers).
func TestFormatBrowserAgrees(t *testing.T) {
	exe := testserver.RequireBinary(t, "chromium")
	tab := loadTable(t)

	assets := static.New()
	mux := http.NewServeMux()
	mux.Handle("/static/", assets)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>format</title><script src=%q></script></head><body></body></html>`, assets.URL("live.js"))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	// Inputs: the table's, then the Go-vs-JS comparison set.
	var bytesIn []int64
	for _, c := range tab.Bytes {
		bytesIn = append(bytesIn, int64(c[0].(float64)))
	}
	nTable := len(bytesIn)
	// JavaScript numbers hold integers exactly up to 2^53-1; past that the
	// input itself differs, so the comparison stops there.
	const maxSafe = 1<<53 - 1
	add := func(ns ...int64) {
		for _, n := range ns {
			if n <= maxSafe {
				bytesIn = append(bytesIn, n)
			}
		}
	}
	for unit := int64(1); unit <= 1<<50; unit *= 1024 {
		for _, k := range []int64{1, 2, 10, 100, 1000, 1023, 1024} {
			b := unit * k
			for d := int64(-3); d <= 3; d++ {
				add(b + d)
			}
			// The rounding ties x.x5 of a unit, and their neighbours.
			if unit >= 1024 {
				for tenth := int64(0); tenth < 10; tenth++ {
					tie := b + unit*tenth/10 + unit/20
					add(tie-1, tie, tie+1)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(9, 4))
	for range 2000 {
		add(rng.Int64N(1 << (1 + rng.IntN(53))))
	}
	var ratesIn []float64
	for _, c := range tab.Rates {
		ratesIn = append(ratesIn, c[0].(float64))
	}
	for range 300 {
		ratesIn = append(ratesIn, rng.Float64()*float64(int64(1)<<(rng.IntN(40))))
	}
	var secsIn []float64
	for _, c := range tab.DurationSeconds {
		secsIn = append(secsIn, c[0].(float64))
	}
	for range 300 {
		secsIn = append(secsIn, float64(rng.IntN(400000))+float64(rng.IntN(4))/4)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	// The first action starts the browser and must have no deadline.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate(ts.URL)) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not load the page within 60s")
	}

	in, err := json.Marshal(map[string]any{"bytes": bytesIn, "rates": ratesIn, "secs": secsIn})
	if err != nil {
		t.Fatal(err)
	}
	type results struct{ Bytes, Rates, Secs []string }
	run, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	got, err := chromedp.Run(run, chromedp.Evaluate[results](`(function (in_) {
		var f = window.movewizardFormat;
		return { bytes: in_.bytes.map(f.bytes), rates: in_.rates.map(f.rate), secs: in_.secs.map(f.duration) };
	})(`+string(in)+`)`))
	if err != nil {
		t.Fatalf("run live.js's formatter: %v", err)
	}
	if len(got.Bytes) != len(bytesIn) || len(got.Rates) != len(ratesIn) || len(got.Secs) != len(secsIn) {
		t.Fatalf("live.js gave %d/%d/%d results for %d/%d/%d inputs", len(got.Bytes), len(got.Rates), len(got.Secs), len(bytesIn), len(ratesIn), len(secsIn))
	}
	for i, c := range tab.Bytes {
		if want := c[1].(string); got.Bytes[i] != want {
			t.Errorf("live.js bytes(%d) = %q, want %q (testdata)", bytesIn[i], got.Bytes[i], want)
		}
	}
	for i, c := range tab.Rates {
		if want := c[1].(string); got.Rates[i] != want {
			t.Errorf("live.js rate(%v) = %q, want %q (testdata)", ratesIn[i], got.Rates[i], want)
		}
	}
	for i, c := range tab.DurationSeconds {
		if want := c[1].(string); got.Secs[i] != want {
			t.Errorf("live.js duration(%v) = %q, want %q (testdata)", secsIn[i], got.Secs[i], want)
		}
	}
	bad := 0
	for i, n := range bytesIn {
		if want := format.Bytes(n); got.Bytes[i] != want && bad < 20 {
			bad++
			t.Errorf("bytes(%d): live.js %q, Go %q", n, got.Bytes[i], want)
		}
	}
	for i, r := range ratesIn {
		if want := format.Rate(r); got.Rates[i] != want && bad < 20 {
			bad++
			t.Errorf("rate(%v): live.js %q, Go %q", r, got.Rates[i], want)
		}
	}
	for i, s := range secsIn {
		if want := format.Duration(time.Duration(s * float64(time.Second))); got.Secs[i] != want && bad < 20 {
			bad++
			t.Errorf("duration(%vs): live.js %q, Go %q", s, got.Secs[i], want)
		}
	}
	t.Logf("compared %d byte counts (%d from testdata), %d rates and %d durations", len(bytesIn), nTable, len(ratesIn), len(secsIn))
}
