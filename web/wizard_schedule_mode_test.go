package web

import (
	"strings"
	"testing"
	"time"
)

func TestWizardScheduleMode(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 12, 7, 23, 40, 0, 0, loc)
	for _, tc := range []struct {
		name        string
		f           WizardScheduleForm
		field, want string // "" field: valid
		stage       bool
		complete    time.Time
	}{
		{name: "move", f: WizardScheduleForm{When: "now", Mode: "move", CompleteAt: "2026-12-09T22:00"}},
		{name: "no mode moves", f: WizardScheduleForm{When: "now"}},
		{name: "staged, waits for an admin", f: WizardScheduleForm{When: "now", Mode: "stage"}, stage: true},
		{name: "staged, completes on Saturday", f: WizardScheduleForm{When: "now", Mode: "stage", CompleteAt: " 2026-12-12T22:00 "},
			stage: true, complete: time.Date(2026, 12, 12, 22, 0, 0, 0, loc)},
		{name: "staged, completes after a later start",
			f:     WizardScheduleForm{When: "at", StartAt: "2026-12-08T20:00", Mode: "stage", CompleteAt: "2026-12-08T20:01"},
			stage: true, complete: time.Date(2026, 12, 8, 20, 1, 0, 0, loc)},
		{name: "staged with cancel-after", f: WizardScheduleForm{When: "now", Mode: "stage", CancelAfter: "8"},
			field: "cancel_after", want: "Cancel after: 8 hours does not apply to a staged job, which waits until it is completed; leave it empty."},
		{name: "move with cancel-after", f: WizardScheduleForm{When: "now", Mode: "move", CancelAfter: "8"}},
		{name: "unknown mode", f: WizardScheduleForm{When: "now", Mode: "later"},
			field: "mode", want: "Choose to move now or to sync, then wait to complete."},
		{name: "completion not a time", f: WizardScheduleForm{When: "now", Mode: "stage", CompleteAt: "saturday"},
			field: "complete_at", want: `Complete at: "saturday" is not a date and time like 2030-01-31T18:00; leave it empty to complete by hand.`},
		{name: "completion in the past", f: WizardScheduleForm{When: "now", Mode: "stage", CompleteAt: "2026-12-07T23:00"},
			field: "complete_at", want: "Complete at: 2026-12-07T23:00 is in the past; choose a later time or leave it empty to complete by hand."},
		{name: "completion before the start", f: WizardScheduleForm{When: "at", StartAt: "2026-12-08T20:00", Mode: "stage", CompleteAt: "2026-12-08T19:00"},
			field: "complete_at", want: "Complete at: 2026-12-08T19:00 is not after the start time 2026-12-08T20:00; the mailboxes must be synced first."},
		{name: "completion at the start", f: WizardScheduleForm{When: "at", StartAt: "2026-12-08T20:00", Mode: "stage", CompleteAt: "2026-12-08T20:00"},
			field: "complete_at", want: "is not after the start time 2026-12-08T20:00"},
		{name: "completion in a year and a minute", f: WizardScheduleForm{When: "now", Mode: "stage", CompleteAt: "2027-12-07T23:41"},
			field: "complete_at", want: "Complete at: 2027-12-07T23:41 is more than a year ahead; choose a time before 2027-12-07T23:40."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Parallel = "4"
			sch := f.Validate(now, loc, 48, 30)
			if tc.field == "" {
				if f.HasError() {
					t.Fatalf("Validate() errors = %v, want none", f.Errors)
				}
				if sch.Stage != tc.stage || !sch.CompleteAt.Equal(tc.complete) {
					t.Errorf("Validate() = stage %v, complete at %v; want %v, %v", sch.Stage, sch.CompleteAt, tc.stage, tc.complete)
				}
				return
			}
			if got := f.Errors.Get(tc.field); !strings.Contains(got, tc.want) {
				t.Errorf("Validate() error for %s = %q, want %q (all: %v)", tc.field, got, tc.want, f.Errors)
			}
			if len(f.Errors) != 1 {
				t.Errorf("Validate() errors = %v, want only %s", f.Errors, tc.field)
			}
		})
	}
}
