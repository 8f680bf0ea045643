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
}

// NewPreflightRow formats a check; held is the job of the user's
// unfinished move, or 0.
func NewPreflightRow(c migrate.MoveCheck, held int64) PreflightRow {
	r := PreflightRow{UID: c.UID, Name: c.Name, Source: c.Source, Status: "ok", HeldJob: held}
	if c.Source == "" && c.Home != "" {
		r.Source = c.Home + " (not registered)"
	}
	if c.Measured {
		r.Messages, r.Bytes = c.Messages, c.Bytes
		r.Count, r.Size = strconv.FormatInt(c.Messages, 10), format.Bytes(c.Bytes)
	}
	if c.QuotaLimit > 0 {
		r.Quota = format.Bytes(c.QuotaUsed) + " used of " + format.Bytes(c.QuotaLimit)
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
