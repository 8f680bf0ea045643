package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DateTimeLocal is the layout of an <input type="datetime-local"> value.
const DateTimeLocal = "2006-01-02T15:04"

// WizardScheduleForm is the schedule step's form, as entered.
type WizardScheduleForm struct {
	When        string // "now" or "at"
	StartAt     string // datetime-local, in the server's time zone
	CancelAfter string // hours, "" or 0 for never
	Parallel    string
	Zone        string // the server's time zone name, shown beside the field
	Errors      FieldErrors
}

// WizardSchedule is a valid schedule.
type WizardSchedule struct {
	StartAt          time.Time // zero: now
	CancelAfterHours int       // 0: never
	Parallel         int
}

// HasError reports whether any field has an error.
func (f WizardScheduleForm) HasError() bool { return len(f.Errors) > 0 }

// Validate checks the form against now and returns the schedule. The start
// time is read in loc and must not be more than a minute in the past (the
// admin may take a moment to press the button).
func (f *WizardScheduleForm) Validate(now time.Time, loc *time.Location, maxCancel, maxParallel int) WizardSchedule {
	f.Errors = nil
	var sch WizardSchedule
	switch f.When {
	case "now":
	case "at":
		t, err := parseLocal(strings.TrimSpace(f.StartAt), loc)
		switch {
		case strings.TrimSpace(f.StartAt) == "":
			f.Errors.Set("start_at", "Enter the date and time to start at.")
		case err != nil:
			f.Errors.Set("start_at", "Enter a date and time like 2030-01-31T18:00.")
		case t.Before(now.Add(-time.Minute)):
			f.Errors.Set("start_at", "The start time is in the past; choose a later time or start now.")
		default:
			sch.StartAt = t
		}
	default:
		f.Errors.Set("when", "Choose to start now or at a time.")
	}
	if c := strings.TrimSpace(f.CancelAfter); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > maxCancel {
			f.Errors.Set("cancel_after", fmt.Sprintf("Enter a number of hours from 1 to %d, or leave it empty for never.", maxCancel))
		}
		sch.CancelAfterHours = n
	}
	n, err := strconv.Atoi(strings.TrimSpace(f.Parallel))
	if err != nil || n < 1 || n > maxParallel {
		f.Errors.Set("parallel", fmt.Sprintf("Enter a number of moves at once from 1 to %d.", maxParallel))
	}
	sch.Parallel = n
	return sch
}

// parseLocal reads a datetime-local value, with or without seconds.
func parseLocal(v string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(DateTimeLocal, v, loc)
	if err != nil {
		return time.ParseInLocation(DateTimeLocal+":05", v, loc)
	}
	return t, nil
}
