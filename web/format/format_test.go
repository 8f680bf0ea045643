package format_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"

	"github.com/movewizard/movewizard/web/format"
)

// formatTable is testdata/format.json: inputs and the strings both Go and
// live.js must give for them.
type formatTable struct {
	Bytes           [][2]any `json:"bytes"`
	Rates           [][2]any `json:"rates"`
	DurationSeconds [][2]any `json:"duration_seconds"`
}

func loadTable(t *testing.T) formatTable {
	t.Helper()
	data, err := os.ReadFile("testdata/format.json")
	if err != nil {
		t.Fatal(err)
	}
	var tab formatTable
	if err := json.Unmarshal(data, &tab); err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestFormatBytesTable(t *testing.T) {
	for _, c := range loadTable(t).Bytes {
		n, want := int64(c[0].(float64)), c[1].(string)
		if got := format.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatRateTable(t *testing.T) {
	for _, c := range loadTable(t).Rates {
		r, want := c[0].(float64), c[1].(string)
		if got := format.Rate(r); got != want {
			t.Errorf("Rate(%v) = %q, want %q", r, got, want)
		}
	}
	if got := format.Rate(math.NaN()); got != "" {
		t.Errorf("Rate(NaN) = %q", got)
	}
	if got := format.Rate(math.Inf(1)); got != "8.0 EiB/s" {
		t.Errorf("Rate(+Inf) = %q", got)
	}
}

func TestFormatDurationTable(t *testing.T) {
	for _, c := range loadTable(t).DurationSeconds {
		s, want := c[0].(float64), c[1].(string)
		if got := format.Duration(time.Duration(s * float64(time.Second))); got != want {
			t.Errorf("Duration(%vs) = %q, want %q", s, got, want)
		}
	}
}

// The largest counts stay in range: no overflow in the rounding.
func TestFormatBytesExtremes(t *testing.T) {
	for n, want := range map[int64]string{
		math.MaxInt64:      "8.0 EiB",
		1 << 60:            "1.0 EiB",
		1<<60 - 1:          "1.0 EiB",
		1<<50*1023 + 1<<49: "1023.5 PiB",
		math.MinInt64:      "-9223372036854775808 B",
	} {
		if got := format.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Bytes never shows 1024.0 of a unit, and the number before the unit
// never decreases as the count grows within a unit.
func TestFormatBytesNever1024(t *testing.T) {
	for _, base := range []int64{1 << 20, 1 << 30, 1 << 40} {
		for n := base - 2000; n <= base+2000; n++ {
			if s := format.Bytes(n); len(s) >= 6 && s[:6] == "1024.0" {
				t.Fatalf("Bytes(%d) = %q", n, s)
			}
		}
	}
}

func TestFormatTime(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	time.Local = time.FixedZone("CET", 3600)
	at := time.Date(2026, 12, 1, 22, 40, 5, 999e6, time.UTC)
	if got, want := format.Time(at), "2026-12-01 23:40:05 CET"; got != want {
		t.Errorf("Time = %q, want %q", got, want)
	}
	// A time in another zone is shown in the server's.
	ny := at.In(time.FixedZone("EST", -5*3600))
	if got, want := format.Time(ny), "2026-12-01 23:40:05 CET"; got != want {
		t.Errorf("Time(other zone) = %q, want %q", got, want)
	}
	if got := format.Time(time.Time{}); got != "" {
		t.Errorf("Time(zero) = %q", got)
	}
	time.Local = time.UTC
	if got, want := format.Time(at), "2026-12-01 22:40:05 UTC"; got != want {
		t.Errorf("Time(UTC) = %q, want %q", got, want)
	}
}
