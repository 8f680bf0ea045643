package web

import (
	"strings"
	"testing"
	"time"
)

func TestWizardScheduleValidate(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 12, 7, 23, 40, 0, 0, loc)
	for _, tc := range []struct {
		name           string
		f              WizardScheduleForm
		field, want    string // "" field: valid
		start          time.Time
		cancel         int
		emails         string // joined by ","
		webhook        bool
		canEmail, hook bool
	}{
		{name: "now, never cancel", f: WizardScheduleForm{When: "now", Parallel: "4"}},
		{name: "cancel after 1", f: WizardScheduleForm{When: "now", CancelAfter: "1", Parallel: "4"}, cancel: 1},
		{name: "cancel after 48", f: WizardScheduleForm{When: "now", CancelAfter: " 48 ", Parallel: "4"}, cancel: 48},
		{name: "cancel after 0", f: WizardScheduleForm{When: "now", CancelAfter: "0", Parallel: "4"},
			field: "cancel_after", want: `Cancel after: "0" is not a number of hours from 1 to 48; leave it empty for never.`},
		{name: "cancel after 49", f: WizardScheduleForm{When: "now", CancelAfter: "49", Parallel: "4"},
			field: "cancel_after", want: `Cancel after: "49" is not a number of hours from 1 to 48`},
		{name: "cancel after -1", f: WizardScheduleForm{When: "now", CancelAfter: "-1", Parallel: "4"},
			field: "cancel_after", want: `"-1" is not a number of hours from 1 to 48`},
		{name: "cancel after words", f: WizardScheduleForm{When: "now", CancelAfter: "two", Parallel: "4"},
			field: "cancel_after", want: `"two" is not a number of hours`},
		{name: "start in an hour", f: WizardScheduleForm{When: "at", StartAt: "2026-12-08T00:40", Parallel: "4"},
			start: time.Date(2026, 12, 8, 0, 40, 0, 0, loc)},
		{name: "start half a minute ago", f: WizardScheduleForm{When: "at", StartAt: "2026-12-07T23:39:30", Parallel: "4"},
			start: time.Date(2026, 12, 7, 23, 39, 30, 0, loc)},
		{name: "start two minutes ago", f: WizardScheduleForm{When: "at", StartAt: "2026-12-07T23:38", Parallel: "4"},
			field: "start_at", want: "Start at: 2026-12-07T23:38 is in the past; choose a later time or start now."},
		{name: "start in a year", f: WizardScheduleForm{When: "at", StartAt: "2027-12-07T23:40", Parallel: "4"},
			start: time.Date(2027, 12, 7, 23, 40, 0, 0, loc)},
		{name: "start in a year and a minute", f: WizardScheduleForm{When: "at", StartAt: "2027-12-07T23:41", Parallel: "4"},
			field: "start_at", want: "Start at: 2027-12-07T23:41 is more than a year ahead; choose a time before 2027-12-07T23:40."},
		{name: "start in 9999", f: WizardScheduleForm{When: "at", StartAt: "9999-12-31T23:59", Parallel: "4"},
			field: "start_at", want: "Start at: 9999-12-31T23:59 is more than a year ahead"},
		{name: "start not a time", f: WizardScheduleForm{When: "at", StartAt: "tomorrow", Parallel: "4"},
			field: "start_at", want: `Start at: "tomorrow" is not a date and time like 2030-01-31T18:00.`},
		{name: "recipients", canEmail: true, hook: true,
			f:      WizardScheduleForm{When: "now", Parallel: "4", NotifyEmails: " ops@example.org,lead@example.org; x@example.org ", NotifyWebhook: true},
			emails: "ops@example.org,lead@example.org,x@example.org", webhook: true},
		{name: "recipients without a relay are ignored",
			f: WizardScheduleForm{When: "now", Parallel: "4", NotifyEmails: "not an address", NotifyWebhook: true}},
		{name: "bad recipient", canEmail: true,
			f:     WizardScheduleForm{When: "now", Parallel: "4", NotifyEmails: "ops@example.org, lead"},
			field: "notify_emails", want: `Notify: "lead" is not an e-mail address like name@example.org. Separate addresses with commas.`},
		{name: "recipient with a line break", canEmail: true,
			f:     WizardScheduleForm{When: "now", Parallel: "4", NotifyEmails: "ops@example.org\r\nBcc: x@example.org"},
			field: "notify_emails", want: `"Bcc: x@example.org" is not an e-mail address`},
		{name: "too many recipients", canEmail: true,
			f:     WizardScheduleForm{When: "now", Parallel: "4", NotifyEmails: strings.Repeat("a@example.org,", 21)},
			field: "notify_emails", want: "Notify: 21 addresses; enter at most 20."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.CanEmail, f.CanWebhook = tc.canEmail, tc.hook
			sch := f.Validate(now, loc, 48, 30)
			if tc.field == "" {
				if f.HasError() {
					t.Fatalf("Validate() errors = %v, want none", f.Errors)
				}
				if !sch.StartAt.Equal(tc.start) || sch.CancelAfterHours != tc.cancel || sch.Parallel != 4 ||
					strings.Join(sch.NotifyEmails, ",") != tc.emails || sch.NotifyWebhook != tc.webhook {
					t.Errorf("Validate() = %+v", sch)
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
