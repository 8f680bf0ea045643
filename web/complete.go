package web

import (
	"strconv"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

// completeWhen is the states in which a staged move's Complete now button
// is shown (live.js reads it from data-when): the open ones, since a move
// still syncing completes once synced.
var completeWhen = model.OpenStatesList()

// CompleteShown reports whether a move's Complete now button is shown: its
// job is staged, it is unfinished, before its cut-over, and nobody asked
// it to complete or to cancel yet.
func CompleteShown(j model.Job, m model.Move) bool {
	return j.Stage && m.Unfinished() && !m.Phase.PastCutover() && !m.CompleteRequested && !m.CancelRequested
}

// JobCompletes says when a staged job completes: "completes 2026-12-12
// 22:00:00 UTC (in 4d 3h)", "completes now (its completion time … came)"
// once it came, or "waits for an admin to complete it" without a
// completion time; for a finished job, how it was to complete; "" for a
// job that is not staged.
func JobCompletes(j model.Job, now time.Time) string {
	switch {
	case !j.Stage:
		return ""
	case !j.State.Open() && j.CompleteAt.IsZero():
		return "by an admin (Complete now)"
	case !j.State.Open():
		return "at " + format.Time(j.CompleteAt) + " or by an admin"
	case j.CompleteAt.IsZero():
		return "waits for an admin to complete it"
	case !j.CompleteAt.After(now):
		return "completes now (its completion time " + format.Time(j.CompleteAt) + " came)"
	}
	return "completes " + format.Time(j.CompleteAt) + " (in " + Until(j.CompleteAt.Sub(now)) + ")"
}

// Until is a wait as people read it: "4d 3h", "3h 5m", "5m 10s", "10s".
func Until(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "less than a second"
	}
	day, h, m, s := d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	n := func(v time.Duration, unit string) string { return strconv.FormatInt(int64(v), 10) + unit }
	switch {
	case day > 0:
		return n(day, "d") + " " + n(h, "h")
	case h > 0:
		return n(h, "h") + " " + n(m, "m")
	case m > 0:
		return n(m, "m") + " " + n(s, "s")
	}
	return n(s, "s")
}

// CutoverWindow is a move's cut-over window as pages and reports show it:
// "—" until measured, milliseconds below a second (a small mailbox's
// window on a fast network), else format.Duration.
func CutoverWindow(m model.Move) string {
	d := m.CutoverWindow()
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
	}
	return format.Duration(d)
}

// SyncLine sums up a staged move's syncs: "last synced 2026-12-08
// 10:00:00 UTC · 3 syncs"; "" before its first sync.
func SyncLine(m model.Move) string {
	if m.LastSyncAt.IsZero() {
		return ""
	}
	return "last synced " + format.Time(m.LastSyncAt) + " · " + jobPlural(m.Syncs, "sync", "syncs")
}

// StateLabel is a move state as pages show it (model.MoveState.Label).
func StateLabel(s model.MoveState) string { return s.Label() }
