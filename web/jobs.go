package web

import (
	"net/url"
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
	Now     time.Time // for "starts in …"
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

// Text is the pill's text: "done 3"; synced moves read "3 synced,
// waiting" (live.js writes the same from the totals).
func (c StateCount) Text() string {
	if c.State == model.MoveSynced {
		return strconv.Itoa(c.Count) + " synced, waiting"
	}
	return string(c.State) + " " + strconv.Itoa(c.Count)
}

// JobView is the job page's model: the job, its totals and one page of its
// moves as Query selects them.
type JobView struct {
	Job    model.Job
	Now    time.Time // for "starts in …"
	Totals JobTotals
	Moves  []MoveRow
	// CanAct shows the cancel and retry buttons (admins only).
	CanAct bool
	// Query is the filter, search, order and page the moves are shown by;
	// Matched is how many moves match it, Pages how many pages they fill
	// (at least 1) and Offset the index of the first row shown.
	Query   JobQuery
	Matched int
	Pages   int
	Offset  int
	// Retryable counts the failed, abandoned and cancelled moves, which
	// "Retry all" queues again.
	Retryable int
	// LiveIDs are the moves the page shows, comma-separated: live.js asks
	// the event stream for their rows only (?ids=).
	LiveIDs string
	// Notified is how the job's notifications fared (settings card).
	Notified NotifyCounts
}

// Unfinished reports whether the job may still be cancelled.
func (v JobView) Unfinished() bool {
	return v.Job.State.Open()
}

// href is the page's link with q instead of its query.
func (v JobView) href(q JobQuery) templ.SafeURL {
	return templ.SafeURL(q.Href(v.Job.ID))
}

// SortHref orders by key: ascending first for names and states, descending
// first for progress, rate and errors (the interesting end on top); the
// current order's link turns its direction round. It starts at page 1.
func (v JobView) SortHref(key string) templ.SafeURL {
	q := v.Query
	if q.Sort == key {
		q.Desc = !q.Desc
	} else {
		q.Sort, q.Desc = key, key == "progress" || key == "rate" || key == "errors"
	}
	q.Page = 1
	return v.href(q)
}

// SortMark is the arrow after the heading of the current order.
func (v JobView) SortMark(key string) string {
	switch {
	case v.Query.Sort != key:
		return ""
	case v.Query.Desc:
		return " ▼"
	}
	return " ▲"
}

// PageHref is the link to page n with the same filter and order.
func (v JobView) PageHref(n int) templ.SafeURL {
	q := v.Query
	q.Page = n
	return v.href(q)
}

// Showing says which rows of how many the page shows.
func (v JobView) Showing() string {
	if v.Matched == 0 {
		return "No mailbox matches."
	}
	return "Mailboxes " + strconv.Itoa(v.Offset+1) + "–" + strconv.Itoa(v.Offset+len(v.Moves)) + " of " + strconv.Itoa(v.Matched) + "."
}

// StateOptions are the choices of the state filter: every state some move
// of the job is in, and the current filter's even if none is.
func (v JobView) StateOptions() []StateCount {
	out := v.Totals.ByState
	if v.Query.State != "" && !jobHasState(out, v.Query.State) {
		out = append(append([]StateCount(nil), out...), StateCount{State: v.Query.State})
	}
	return out
}

func jobHasState(counts []StateCount, st model.MoveState) bool {
	for _, c := range counts {
		if c.State == st {
			return true
		}
	}
	return false
}

// JobQuery is how the job page shows a job's moves; it travels in the
// page's links as ?state=&q=&sort=&dir=&page= so that the page works
// without script and a link shows the same rows.
type JobQuery struct {
	State model.MoveState // "": every state
	Q     string          // part of the uid; "": every uid
	Sort  string          // "" (creation order), mailbox, state, progress, rate or errors
	Desc  bool
	Page  int // from 1
}

// Values is q as query parameters, leaving out the defaults.
func (q JobQuery) Values() url.Values {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", string(q.State))
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
		dir := "asc"
		if q.Desc {
			dir = "desc"
		}
		v.Set("dir", dir)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// Href is the job page's link showing q.
func (q JobQuery) Href(job int64) string {
	if enc := q.Values().Encode(); enc != "" {
		return "/jobs/" + jobID(job) + "?" + enc
	}
	return "/jobs/" + jobID(job)
}

// JobTotals sums a job's moves.
type JobTotals struct {
	Mailboxes             int
	ByState               []StateCount
	MsgsDone, MsgsTotal   int64
	BytesDone, BytesTotal int64
	Skipped               int
	// Rate is the job's throughput, the sum of its running moves' rates
	// (bytes per second); ETA the estimated time left at that rate.
	Rate float64
	ETA  time.Duration
}

// Percent is the share of the job's bytes copied, rounded down ("37%"); a
// job whose sizes are all zero is at 100% once every move finished.
func (t JobTotals) Percent() string { return JobPercent(t.BytesDone, t.BytesTotal, t.open() == 0) }

// BarMax and BarValue set the job's <progress> element.
func (t JobTotals) BarMax() string { return strconv.FormatInt(max(t.BytesTotal, 1), 10) }

func (t JobTotals) BarValue() string {
	switch {
	case t.BytesTotal > 0:
		return strconv.FormatInt(min(t.BytesDone, t.BytesTotal), 10)
	case t.Mailboxes > 0 && t.open() == 0:
		return "1"
	}
	return "0"
}

func (t JobTotals) open() int {
	n := 0
	for _, c := range t.ByState {
		if c.State.Open() {
			n += c.Count
		}
	}
	return n
}

// JobPercent is done of total as a whole percentage rounded down, so that
// 100% means finished; with no bytes known it is 100% when finished and 0%
// otherwise. The live updates send this text, so the page and the updates
// read the same.
func JobPercent(done, total int64, finished bool) string {
	switch {
	case total > 0:
		return strconv.FormatInt(min(done, total)*100/total, 10) + "%"
	case finished:
		return "100%"
	}
	return "0%"
}

// MoveRow is one mailbox's row: its stored state plus the broker's rate.
type MoveRow struct {
	model.Move
	Rate float64 // bytes per second; 0 when unknown
	ETA  time.Duration
}

// BulkConfirm is the page that asks before a bulk action: the question, the
// mailboxes it applies to, and a form repeating the request with
// confirm=yes. It works without script.
type BulkConfirm struct {
	Question string   // "Cancel 12 mailboxes of job #5?"
	Notes    []string // what the action does, e.g. a policy change
	Items    []string // the mailboxes, at most a screenful
	More     int      // mailboxes beyond Items
	Action   string   // the URL the form posts to
	Fields   []HiddenField
	Back     string // the job page the person came from
}

// HiddenField is one field a confirmation form carries.
type HiddenField struct{ Name, Value string }

// MoveView is the mailbox (move) page's model.
type MoveView struct {
	Job     model.Job
	Move    model.Move
	Events  []model.Event
	Skipped []model.SkippedItem
	CanAct  bool
	Now     time.Time // for "completes in …"
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

func jobDir(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// TestID names the filter link for tests: "filter-all", "filter-failed".
func (f JobFilter) TestID() string {
	if f.State == "" {
		return "filter-all"
	}
	return "filter-" + string(f.State)
}

// StartsIn says when a job waiting for its start time starts: "starts
// 2026-12-08 03:00:00 UTC (in 2h 59m 0s)"; "" when it has no start time
// ahead of now. Beyond ten minutes the wait is rounded to the minute.
func StartsIn(start, now time.Time) string {
	if start.IsZero() || !start.After(now) {
		return ""
	}
	d := start.Sub(now)
	if d > 10*time.Minute {
		d = d.Round(time.Minute)
	}
	if d < time.Second {
		d = time.Second
	}
	return "starts " + format.Time(start) + " (in " + format.Duration(d) + ")"
}
