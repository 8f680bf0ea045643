package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
)

// DateTimeLocal is the layout of an <input type="datetime-local"> value.
const DateTimeLocal = "2006-01-02T15:04"

// WizardScheduleForm is the schedule step's form, as entered.
type WizardScheduleForm struct {
	When        string // "now" or "at"
	StartAt     string // datetime-local, in the server's time zone
	CancelAfter string // hours, "" for never
	Parallel    string
	Zone        string // the server's time zone name, shown beside the field
	// Mode is "move" (copy, switch, remove in one go) or "stage" (sync,
	// then wait until completed); CompleteAt is the staged job's optional
	// completion time, datetime-local in the server's time zone.
	Mode       string
	CompleteAt string
	// Notify: the e-mail recipients (comma-separated) and whether to call
	// the webhook. CanEmail and CanWebhook say whether the configuration
	// has an SMTP relay and webhooks; without them the fields are not
	// offered.
	NotifyEmails  string
	NotifyWebhook bool
	CanEmail      bool
	CanWebhook    bool
	Errors        FieldErrors
}

// CanNotify reports whether any notification channel is configured.
func (f WizardScheduleForm) CanNotify() bool { return f.CanEmail || f.CanWebhook }

// WizardSchedule is a valid schedule.
type WizardSchedule struct {
	StartAt          time.Time // zero: now
	CancelAfterHours int       // 0: never
	Parallel         int
	NotifyEmails     []string
	NotifyWebhook    bool
	Stage            bool
	CompleteAt       time.Time // zero: an admin completes the staged job
}

// HasError reports whether any field has an error.
func (f WizardScheduleForm) HasError() bool { return len(f.Errors) > 0 }

// Validate checks the form against now and returns the schedule. The start
// time is read in loc and must be neither more than a minute in the past
// (the admin may take a moment to press the button) nor more than a year
// ahead; cancel-after is empty (never) or 1..maxCancel hours. Each error
// names the field and quotes the value.
func (f *WizardScheduleForm) Validate(now time.Time, loc *time.Location, maxCancel, maxParallel int) WizardSchedule {
	f.Errors = nil
	var sch WizardSchedule
	switch f.When {
	case "now":
	case "at":
		v := strings.TrimSpace(f.StartAt)
		t, err := parseLocal(v, loc)
		switch {
		case v == "":
			f.Errors.Set("start_at", "Enter the date and time to start at.")
		case err != nil:
			f.Errors.Set("start_at", fmt.Sprintf("Start at: %q is not a date and time like 2030-01-31T18:00.", clip(v)))
		case t.Before(now.Add(-time.Minute)):
			f.Errors.Set("start_at", fmt.Sprintf("Start at: %s is in the past; choose a later time or start now.", v))
		case t.After(now.AddDate(1, 0, 0)):
			f.Errors.Set("start_at", fmt.Sprintf("Start at: %s is more than a year ahead; choose a time before %s.",
				v, now.AddDate(1, 0, 0).In(loc).Format(DateTimeLocal)))
		default:
			sch.StartAt = t
		}
	default:
		f.Errors.Set("when", "Choose to start now or at a time.")
	}
	if c := strings.TrimSpace(f.CancelAfter); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > maxCancel {
			f.Errors.Set("cancel_after", fmt.Sprintf("Cancel after: %q is not a number of hours from 1 to %d; leave it empty for never.", clip(c), maxCancel))
		} else {
			sch.CancelAfterHours = n
		}
	}
	f.validateMode(&sch, now, loc)
	n, err := strconv.Atoi(strings.TrimSpace(f.Parallel))
	if err != nil || n < 1 || n > maxParallel {
		f.Errors.Set("parallel", fmt.Sprintf("Enter a number of moves at once from 1 to %d.", maxParallel))
	}
	sch.Parallel = n
	if f.CanEmail {
		addrs, msg := ParseRecipients(f.NotifyEmails)
		if msg != "" {
			f.Errors.Set("notify_emails", msg)
		}
		sch.NotifyEmails = addrs
	}
	sch.NotifyWebhook = f.CanWebhook && f.NotifyWebhook
	return sch
}

// validateMode reads the mode and a staged job's completion time: after
// the start time, not in the past, at most a year after now. A staged job
// takes no cancel-after.
func (f *WizardScheduleForm) validateMode(sch *WizardSchedule, now time.Time, loc *time.Location) {
	switch f.Mode {
	case "move", "":
		// A form without the field (an older page) moves, as before.
		return
	case "stage":
		sch.Stage = true
		if sch.CancelAfterHours > 0 {
			// The runner never cancels a staged job's moves for running
			// long: they wait by design. Say so rather than drop the value.
			f.Errors.Set("cancel_after", fmt.Sprintf("Cancel after: %d hours does not apply to a staged job, which waits until it is completed; leave it empty.", sch.CancelAfterHours))
			sch.CancelAfterHours = 0
		}
	default:
		f.Errors.Set("mode", "Choose to move now or to sync, then wait to complete.")
		return
	}
	v := strings.TrimSpace(f.CompleteAt)
	if v == "" {
		return
	}
	t, err := parseLocal(v, loc)
	start := now
	if !sch.StartAt.IsZero() {
		start = sch.StartAt
	}
	switch {
	case err != nil:
		f.Errors.Set("complete_at", fmt.Sprintf("Complete at: %q is not a date and time like 2030-01-31T18:00; leave it empty to complete by hand.", clip(v)))
	case t.Before(now):
		f.Errors.Set("complete_at", fmt.Sprintf("Complete at: %s is in the past; choose a later time or leave it empty to complete by hand.", v))
	case !t.After(start):
		f.Errors.Set("complete_at", fmt.Sprintf("Complete at: %s is not after the start time %s; the mailboxes must be synced first.",
			v, start.In(loc).Format(DateTimeLocal)))
	case t.After(now.AddDate(1, 0, 0)):
		f.Errors.Set("complete_at", fmt.Sprintf("Complete at: %s is more than a year ahead; choose a time before %s.",
			v, now.AddDate(1, 0, 0).In(loc).Format(DateTimeLocal)))
	default:
		sch.CompleteAt = t
	}
}

// ParseRecipients reads comma-separated e-mail addresses (semicolons and
// line breaks separate too, as address books paste them). The message is
// "" when they are valid, else a sentence naming the bad address.
func ParseRecipients(v string) ([]string, string) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' })
	var addrs []string
	for _, a := range fields {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) > config.MaxNotifyRecipients {
		return nil, fmt.Sprintf("Notify: %d addresses; enter at most %d.", len(addrs), config.MaxNotifyRecipients)
	}
	if err := config.CheckRecipients(addrs); err != nil {
		return nil, fmt.Sprintf("Notify: %s. Separate addresses with commas.", clipErr(err.Error()))
	}
	return addrs, ""
}

// clip shortens echoed input, so that a pasted novel is not shown back.
func clip(v string) string {
	if r := []rune(v); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return v
}

func clipErr(msg string) string {
	if r := []rune(msg); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return msg
}

// parseLocal reads a datetime-local value, with or without seconds.
func parseLocal(v string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(DateTimeLocal, v, loc)
	if err != nil {
		return time.ParseInLocation(DateTimeLocal+":05", v, loc)
	}
	return t, nil
}
