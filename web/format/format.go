// Package format is the one way the product writes byte counts, transfer
// rates, durations and times for people: every page in web, the CLI's
// output, and (by a copy in static/files/live.js, which fills the job page
// in as moves progress) the live updates. The copy in live.js gives the
// same strings for the same input; testdata/bytes.json and
// format_browser_test.go check both against each other.
//
// Conventions:
//   - Bytes use binary IEC units, as mail servers count quotas and mailbox
//     sizes: "0 B" … "1023 B", then one decimal: "1.0 KiB", "1.5 MiB",
//     "5.0 GiB". The decimal is rounded half up, computed in integers so
//     that Go and JavaScript cannot differ, and a value that would round to
//     1024.0 of a unit is written in the next unit ("1.0 MiB").
//   - Rates are Bytes per second ("2.5 MiB/s"); no rate (0) is "".
//   - Times are the server's local zone with its abbreviation, to the
//     second: "2026-12-01 23:40:05 CET". It is the zone of the wizard's
//     schedule field, so the start time typed in reads back the same. The
//     browser does not format times: live.js shows the strings the server
//     formatted with Time.
package format

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// units are the binary units above bytes, 1024 times apart.
var units = [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Bytes writes a byte count in binary units: "1023 B", "1.0 KiB",
// "1.5 MiB". Negative counts (never stored) are written as plain bytes.
func Bytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	u := uint64(n)
	i, div := 0, uint64(1024)
	for i < len(units)-1 && u/div >= 1024 {
		div *= 1024
		i++
	}
	t := tenths(u, div)
	if t >= 10240 && i < len(units)-1 {
		div *= 1024
		i++
		t = tenths(u, div)
	}
	return strconv.FormatUint(t/10, 10) + "." + strconv.FormatUint(t%10, 10) + " " + units[i]
}

// tenths is u/div in tenths, rounded half up; div is a power of 1024 no
// larger than 1<<60, so r*10 cannot overflow.
func tenths(u, div uint64) uint64 {
	q, r := u/div, u%div
	return q*10 + (r*10+div/2)/div
}

// Rate writes a transfer rate in bytes per second, truncated to whole
// bytes: "2.5 MiB/s". No rate (zero, negative or NaN) is "".
func Rate(bytesPerSecond float64) string {
	if !(bytesPerSecond > 0) {
		return ""
	}
	n := int64(math.MaxInt64)
	if bytesPerSecond < math.MaxInt64 {
		n = int64(bytesPerSecond)
	}
	return Bytes(n) + "/s"
}

// Duration writes a duration rounded to the second: "1h 2m 3s", "4m 0s",
// "5s". Less than half a second (or no duration) is "".
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s <= 0 {
		return ""
	}
	h, m, r := s/3600, s%3600/60, s%60
	var b strings.Builder
	if h > 0 {
		b.WriteString(strconv.FormatInt(h, 10) + "h ")
	}
	if h > 0 || m > 0 {
		b.WriteString(strconv.FormatInt(m, 10) + "m ")
	}
	b.WriteString(strconv.FormatInt(r, 10) + "s")
	return b.String()
}

// TimeLayout is the layout of Time: local date and time to the second and
// the zone's abbreviation.
const TimeLayout = "2006-01-02 15:04:05 MST"

// Time writes t in the server's local zone (time.Local) with the zone's
// abbreviation, "2026-12-01 23:40:05 CET"; the zero time is "" (pages that
// want a dash add it).
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(time.Local).Format(TimeLayout)
}
