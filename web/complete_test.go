package web

import (
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

func TestJobCompletes(t *testing.T) {
	now := time.Date(2026, 12, 8, 18, 50, 0, 0, time.UTC)
	at := time.Date(2026, 12, 12, 22, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		job  model.Job
		want string
	}{
		{"not staged", model.Job{CompleteAt: at, State: model.JobRunning}, ""},
		{"waits for an admin", model.Job{Stage: true, State: model.JobRunning}, "waits for an admin to complete it"},
		{"completes later", model.Job{Stage: true, CompleteAt: at, State: model.JobRunning},
			"completes " + format.Time(at) + " (in 4d 3h)"},
		{"time came", model.Job{Stage: true, CompleteAt: now.Add(-time.Minute), State: model.JobRunning},
			"completes now (its completion time " + format.Time(now.Add(-time.Minute)) + " came)"},
		{"finished, by an admin", model.Job{Stage: true, State: model.JobDone}, "by an admin (Complete now)"},
		{"finished, with a time", model.Job{Stage: true, CompleteAt: at, State: model.JobDone}, "at " + format.Time(at) + " or by an admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := JobCompletes(tc.job, now); got != tc.want {
				t.Errorf("JobCompletes() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUntil(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "less than a second"}, {400 * time.Millisecond, "less than a second"}, {12 * time.Second, "12s"},
		{5*time.Minute + 10*time.Second, "5m 10s"}, {3*time.Hour + 5*time.Minute + 59*time.Second, "3h 5m"},
		{99*time.Hour + 10*time.Minute, "4d 3h"}, {400 * 24 * time.Hour, "400d 0h"},
	} {
		if got := Until(tc.d); got != tc.want {
			t.Errorf("Until(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
