package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

// JobsList is the jobs list page's model.
type JobsList struct {
	Filters []JobFilter
	Jobs    []JobSummary
}

// JobFilter is one state filter link with the number of jobs in it.
type JobFilter struct {
	State  model.JobState // "" means all
	Label  string
	Count  int
	Active bool
}

// Href is the filter's link.
func (f JobFilter) Href() string {
	if f.State == "" {
		return "/jobs"
	}
	return "/jobs?state=" + string(f.State)
}

// JobSummary is one job with how many of its mailboxes are in each state.
type JobSummary struct {
	model.Job
	Outcomes []StateCount
}

// StateCount is how many mailboxes are in one state.
type StateCount struct {
	State model.MoveState
	Count int
}

// JobView is the job page's model.
type JobView struct {
	Job    model.Job
	Totals JobTotals
	Moves  []MoveRow
	// CanAct shows the cancel and retry buttons (admins only).
	CanAct bool
}

// Unfinished reports whether the job may still be cancelled.
func (v JobView) Unfinished() bool {
	return v.Job.State == model.JobQueued || v.Job.State == model.JobRunning
}

// JobTotals sums a job's moves.
type JobTotals struct {
	Mailboxes             int
	ByState               []StateCount
	MsgsDone, MsgsTotal   int64
	BytesDone, BytesTotal int64
	Skipped               int
}

// MoveRow is one mailbox's row: its stored state plus the broker's rate.
type MoveRow struct {
	model.Move
	Rate float64 // bytes per second; 0 when unknown
	ETA  time.Duration
}

// MoveView is the mailbox (move) page's model.
type MoveView struct {
	Job     model.Job
	Move    model.Move
	Events  []model.Event
	Skipped []model.SkippedItem
	CanAct  bool
}

// Move states in which the per-mailbox buttons apply; live.js shows and
// hides them by these lists as the state changes.
var (
	cancelWhen = model.OpenStatesList()
	retryWhen  = strings.Join([]string{string(model.MoveFailed), string(model.MoveAbandoned), string(model.MoveCancelled)}, " ")
)

func jobStateIn(state model.MoveState, when string) bool {
	for _, s := range strings.Fields(when) {
		if s == string(state) {
			return true
		}
	}
	return false
}

func jobID(id int64) string { return strconv.FormatInt(id, 10) }

func jobHref(id int64) templ.SafeURL { return templ.SafeURL("/jobs/" + jobID(id)) }

func moveHref(id int64) templ.SafeURL { return templ.SafeURL("/moves/" + jobID(id)) }

// jobBarMax and jobBarValue set a <progress> element: a finished move
// without bytes (an empty mailbox) shows full, an unstarted one empty.
func jobBarMax(m model.Move) string {
	if m.BytesTotal > 0 {
		return strconv.FormatInt(m.BytesTotal, 10)
	}
	return "1"
}

func jobBarValue(m model.Move) string {
	switch {
	case m.BytesTotal > 0:
		return strconv.FormatInt(min(m.BytesDone, m.BytesTotal), 10)
	case m.State == model.MoveDone:
		return "1"
	}
	return "0"
}

// jobPlural is "1 mailbox", "2 mailboxes".
func jobPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// JobTime formats a job's time as the job page shows it ("" for zero), so
// that live updates read the same as the first render; it is format.Time.
func JobTime(t time.Time) string { return format.Time(t) }
