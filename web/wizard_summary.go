package web

import (
	"slices"
	"strconv"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/web/format"
)

// WizardSummary is the summary step's model.
type WizardSummary struct {
	Users       int
	Target      string
	Policy      string // a sentence
	Source      string // "removed" or "kept"
	Start       string // "now" or a local time
	CancelAfter string // "never" or "after N hours"
	Parallel    int
	Mode        string   // "move now (copy, switch, remove)" or "sync, then wait to complete"
	Complete    string   // a staged job's completion: a time, or "when an admin completes it"; "" for a move
	Notify      string   // "e-mail to a@example.org and the webhook", or "nobody"
	Notes       []string // users that will be skipped, and why
	Rows        []PreflightRow
	Checked     bool   // Rows hold results (no-script preflight)
	EventsURL   string // the preflight stream
}

// Problems counts rows with errors.
func (v WizardSummary) Problems() int {
	n := 0
	for _, r := range v.Rows {
		if r.Status == "problem" {
			n++
		}
	}
	return n
}

// AlreadyThere counts rows whose mailbox already is on the target.
func (v WizardSummary) AlreadyThere() int {
	n := 0
	for _, r := range v.Rows {
		if r.AlreadyThere && r.Status != "problem" {
			n++
		}
	}
	return n
}

// CheckedLine sums up a finished preflight: "22 ready, 9 already there,
// 2 with problems." (wizard.js writes the same sentence).
func (v WizardSummary) CheckedLine() string {
	return PreflightLine(len(v.Rows), v.AlreadyThere(), v.Problems())
}

// PreflightLine is the preflight's summary sentence for count users of
// which there are already on the target and problems cannot move.
func PreflightLine(count, there, problems int) string {
	s := "Checked: " + strconv.Itoa(count-there-problems) + " ready"
	if there > 0 {
		s += ", " + strconv.Itoa(there) + " already there"
	}
	s += ", " + strconv.Itoa(problems) + " with problems."
	if problems > 0 {
		s += " Remove them from the selection (or fix them and check again) to start."
	}
	return s
}

// PreflightRow is one user's preflight result, on the page and, as JSON,
// in the preflight stream's "preflight" events. wizard.js sets each field
// of the row with the same name.
type PreflightRow struct {
	UID      string `json:"uid"`
	Name     string `json:"name"`
	Source   string `json:"source"`
	Messages int64  `json:"messages"`
	Bytes    int64  `json:"bytes"`
	Count    string `json:"count"`  // messages, formatted ("" when not measured)
	Size     string `json:"size"`   // bytes, formatted
	Quota    string `json:"quota"`  // target quota, formatted; "" when none
	Status   string `json:"status"` // "ok", "warning" or "problem"
	Problems string `json:"problems"`
	HeldJob  int64  `json:"held_job,omitempty"` // job holding an unfinished move
	// AlreadyThere: the mailbox already is on the target (status
	// "warning"); it is not counted as ready.
	AlreadyThere bool `json:"already_there,omitempty"`
}

// NewPreflightRow formats a check; held is the job of the user's
// unfinished move, or 0.
func NewPreflightRow(c migrate.MoveCheck, held int64) PreflightRow {
	r := PreflightRow{UID: c.UID, Name: c.Name, Source: c.Source, Status: "ok", HeldJob: held, AlreadyThere: c.AlreadyThere}
	if c.Source == "" && c.Home != "" {
		r.Source = c.Home + " (not registered)"
	}
	if c.Measured {
		r.Messages, r.Bytes = c.Messages, c.Bytes
		r.Count, r.Size = strconv.FormatInt(c.Messages, 10), format.Bytes(c.Bytes)
	}
	switch {
	case c.QuotaLimit > 0:
		r.Quota = format.Bytes(c.QuotaUsed) + " used of " + format.Bytes(c.QuotaLimit)
	case c.Measured && !c.AlreadyThere:
		r.Quota = "none reported"
	}
	problems := c.Errors
	if held != 0 {
		problems = append([]string{"Already in unfinished job " + strconv.FormatInt(held, 10) + "; starting will be refused."}, problems...)
	}
	switch {
	case len(problems) > 0:
		r.Status = "problem"
	case len(c.Warnings) > 0:
		r.Status = "warning"
	}
	// Notes (folders that may be renamed) inform without changing the status.
	for _, p := range slices.Concat(problems, c.Warnings, c.Notes) {
		if r.Problems != "" {
			r.Problems += " "
		}
		r.Problems += p
	}
	return r
}

// preflightClass maps a preflight status onto the state-* colours.
func preflightClass(status string) string {
	switch status {
	case "ok":
		return "done"
	case "problem":
		return "failed"
	}
	return "cancelled"
}
