// Package notify delivers the job store's notifications (db's outbox): a
// JSON POST to each configured webhook and a plain-text e-mail through the
// configured SMTP relay to the job's recipients. It lives beside the
// engine, not in handlers: serve runs it in the background like the
// runner, and nothing of it knows about the web UI except the base URL
// that links point to.
//
// Delivery is at least once: a notification is retried with back-off up
// to Sender.MaxAttempts, survives restarts (it is in SQLite), and carries
// its stable key ("id" in the JSON, the Message-ID of the e-mail) so that
// receivers can drop duplicates. A delivery that fails never touches a
// move; a delivery given up is in the audit, the mailbox's history and
// the log.
package notify

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// Payload is the JSON body of a webhook POST.
type Payload struct {
	// ID is the notification's stable key: the same in every retry.
	ID      string    `json:"id"`
	Event   string    `json:"event"` // "job.finished", "mailbox.failed" or "mailbox.abandoned"
	At      time.Time `json:"at"`
	Summary string    `json:"summary"` // the e-mail's subject
	Job     JobInfo   `json:"job"`
	Mailbox *Mailbox  `json:"mailbox,omitempty"`
}

// JobInfo is the job a notification is about.
type JobInfo struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"` // "Move job #12"
	Target string `json:"target"`
	// Outcome is the job's state: done, completed-with-errors, failed,
	// cancelled (for a mailbox event, the job's state is not final and
	// this is empty).
	Outcome   string         `json:"outcome,omitempty"`
	Counts    map[string]int `json:"counts"` // mailboxes by state
	Moved     int            `json:"moved"`  // done or already there
	Mailboxes int            `json:"mailboxes"`
	URL       string         `json:"url,omitempty"` // the job page, when base_url is configured
}

// Mailbox is the mailbox a mailbox event is about.
type Mailbox struct {
	MoveID int64  `json:"move_id"`
	UID    string `json:"uid"`
	State  string `json:"state"`
	Error  string `json:"error"`
	URL    string `json:"url,omitempty"`
}

// NewPayload describes n; baseURL ("" for none) makes the links.
func NewPayload(n db.Notification, baseURL string) Payload {
	p := Payload{ID: n.Key, At: n.CreatedAt.UTC(), Job: JobInfo{ID: n.JobID, Name: jobName(n.JobID),
		Target: n.Target, Counts: map[string]int{}}}
	for st, c := range n.Counts {
		p.Job.Counts[string(st)] = c
		p.Job.Mailboxes += c
	}
	p.Job.Moved = n.Counts[model.MoveDone] + n.Counts[model.MoveAlreadyThere]
	base := strings.TrimRight(baseURL, "/")
	if base != "" {
		p.Job.URL = base + "/jobs/" + strconv.FormatInt(n.JobID, 10)
	}
	switch n.Kind {
	case db.NotifyJobFinished:
		p.Event, p.Job.Outcome = "job.finished", n.Outcome
	default:
		p.Event = "mailbox." + n.Outcome
		p.Mailbox = &Mailbox{MoveID: n.MoveID, UID: n.UID, State: n.Outcome, Error: n.Error}
		if base != "" {
			p.Mailbox.URL = base + "/moves/" + strconv.FormatInt(n.MoveID, 10)
		}
	}
	p.Summary = p.subject()
	return p
}

func jobName(id int64) string { return "Move job #" + strconv.FormatInt(id, 10) }

// subject is one line: "Move job #12 completed with errors: 2 of 3
// mailboxes moved", "Move job #12: mailbox bob failed". Names come from
// the store and may hold anything; oneLine keeps them to one line.
func (p Payload) subject() string {
	if p.Mailbox != nil {
		return fmt.Sprintf("%s: mailbox %s %s", p.Job.Name, oneLine(p.Mailbox.UID), p.Mailbox.State)
	}
	outcome := model.JobState(p.Job.Outcome).Label()
	if p.Job.Outcome == string(model.JobDone) {
		outcome = "done"
	}
	return fmt.Sprintf("%s %s: %d of %d %s moved", p.Job.Name, outcome, p.Job.Moved, p.Job.Mailboxes,
		plural(p.Job.Mailboxes, "mailbox", "mailboxes"))
}

// Text is the e-mail's plain-text body.
func (p Payload) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\n", p.Summary)
	if p.Mailbox != nil {
		fmt.Fprintf(&b, "Mailbox:  %s\nState:    %s\nError:    %s\n", oneLine(p.Mailbox.UID), p.Mailbox.State, oneLine(p.Mailbox.Error))
		if p.Mailbox.URL != "" {
			fmt.Fprintf(&b, "Details:  %s\n", p.Mailbox.URL)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Job:      %s to %s\n", p.Job.Name, oneLine(p.Job.Target))
	if p.Job.Outcome != "" {
		fmt.Fprintf(&b, "Outcome:  %s\n", model.JobState(p.Job.Outcome).Label())
	}
	states := make([]string, 0, len(p.Job.Counts))
	for st := range p.Job.Counts {
		states = append(states, st)
	}
	sort.Strings(states)
	b.WriteString("Mailboxes:")
	for _, st := range states {
		fmt.Fprintf(&b, " %d %s,", p.Job.Counts[st], model.JobState(st).Label())
	}
	fmt.Fprintf(&b, " %d in all\n", p.Job.Mailboxes)
	if p.Job.URL != "" {
		fmt.Fprintf(&b, "Job page: %s\n", p.Job.URL)
	}
	fmt.Fprintf(&b, "\nNotification %s, %s.\n", p.ID, p.At.Format(time.RFC1123Z))
	return b.String()
}

// oneLine replaces control characters (CR and LF among them) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
