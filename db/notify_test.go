package db

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// mustCreateNotifyJob creates a job for uids that tells emails and, if
// webhook, the webhooks.
func mustCreateNotifyJob(t *testing.T, d *DB, emails string, webhook bool, uids ...string) (model.Job, []model.Move) {
	t.Helper()
	ctx := context.Background()
	j := testJob()
	j.NotifyEmails, j.NotifyWebhook = emails, webhook
	j, err := d.CreateJob(ctx, j, uids)
	if err != nil {
		t.Fatalf("CreateJob() = %v", err)
	}
	ms, err := d.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j, ms
}

func TestCreateJobKeepsNotifyChoices(t *testing.T) {
	d := mustOpenDB(t)
	j, _ := mustCreateNotifyJob(t, d, "a@example.org,b@example.org", true, "ann")
	got, err := d.Job(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.NotifyEmails != "a@example.org,b@example.org" || !got.NotifyWebhook {
		t.Errorf("Job() notify = %q, %v; want both addresses and the webhook", got.NotifyEmails, got.NotifyWebhook)
	}
	if r := got.NotifyRecipients(); len(r) != 2 || r[1] != "b@example.org" {
		t.Errorf("NotifyRecipients() = %q", r)
	}
}

// TestNotificationsEnqueued: a finished job and a failed or abandoned
// mailbox write a notification with the facts of that moment, in the
// transaction of the change; a job that names nobody writes none; saving
// an ended attempt again writes no second one.
func TestNotificationsEnqueued(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	quiet, qms := mustCreateNotifyJob(t, d, "", false, "zed")
	qms[0].State = model.MoveFailed
	if err := d.SaveMove(ctx, qms[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FinishJobIfDone(ctx, quiet.ID); err != nil {
		t.Fatal(err)
	}
	if ns, err := d.JobNotifications(ctx, quiet.ID); err != nil || len(ns) != 0 {
		t.Fatalf("JobNotifications(job without recipients) = %v, %v; want none", ns, err)
	}

	j, ms := mustCreateNotifyJob(t, d, "ops@example.org", true, "ann", "bob", "cid")
	ms[0].State = model.MoveDone
	ms[1].State, ms[1].Error = model.MoveFailed, "the source refused the login"
	ms[2].State, ms[2].Error = model.MoveAbandoned, "a message cannot be read"
	for _, m := range ms {
		if err := d.SaveMove(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SaveMove(ctx, ms[1]); err != nil { // the same attempt again
		t.Fatal(err)
	}
	if finished, err := d.FinishJobIfDone(ctx, j.ID); err != nil || !finished {
		t.Fatalf("FinishJobIfDone() = %v, %v", finished, err)
	}
	ns, err := d.JobNotifications(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("JobNotifications() = %d notifications, want 3: %+v", len(ns), ns)
	}
	failed, abandoned, fin := ns[0], ns[1], ns[2]
	if failed.Kind != NotifyMailboxFailed || failed.UID != "bob" || failed.Error != "the source refused the login" ||
		failed.MoveID != ms[1].ID || failed.Key != "move-"+itoa(ms[1].ID)+"-attempt-1-failed" {
		t.Errorf("first notification = %+v, want bob's failure", failed)
	}
	if abandoned.Kind != NotifyMailboxAbandoned || abandoned.UID != "cid" {
		t.Errorf("second notification = %+v, want cid abandoned", abandoned)
	}
	if fin.Kind != NotifyJobFinished || fin.Outcome != string(model.JobDoneWithErrors) || fin.MoveID != 0 ||
		fin.Key != "job-"+itoa(j.ID)+"-finished-1" || !fin.Webhook || len(fin.Emails) != 1 || fin.Emails[0] != "ops@example.org" {
		t.Errorf("job notification = %+v", fin)
	}
	want := map[model.MoveState]int{model.MoveDone: 1, model.MoveFailed: 1, model.MoveAbandoned: 1}
	for st, n := range want {
		if fin.Counts[st] != n {
			t.Errorf("job notification counts = %v, want %v", fin.Counts, want)
		}
	}

	// A retried mailbox that fails again, and the job finishing again, are
	// new events with new keys.
	if _, err := d.RetryMove(ctx, ms[1].ID, "admin"); err != nil {
		t.Fatal(err)
	}
	m, err := d.Move(ctx, ms[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	m.State = model.MoveFailed
	if err := d.SaveMove(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FinishJobIfDone(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	ns, err = d.JobNotifications(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 5 || ns[3].Key != "move-"+itoa(m.ID)+"-attempt-2-failed" || ns[4].Key != "job-"+itoa(j.ID)+"-finished-2" {
		t.Errorf("after a retry, notifications = %+v", ns)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// finishedJob makes a job of one done mailbox that tells emails and the
// webhook, finished.
func finishedJob(t *testing.T, d *DB, emails string) model.Job {
	t.Helper()
	ctx := context.Background()
	j, ms := mustCreateNotifyJob(t, d, emails, true, "ann")
	mustFinishMove(t, d, ms[0])
	if _, err := d.FinishJobIfDone(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestDeliveriesClaimRetryGiveUp: deliveries are made per webhook and for
// the e-mail; a claimed delivery is leased; a failed one is due again at
// its retry time; one given up is in the audit.
func TestDeliveriesClaimRetryGiveUp(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	now := testNow
	d.Now = func() time.Time { return now }
	j := finishedJob(t, d, "ops@example.org")

	made, err := d.ExpandNotifications(ctx, []string{"https://a.example/hook", "https://b.example/hook?token=t0ken"}, true)
	if err != nil || made != 3 {
		t.Fatalf("ExpandNotifications() = %d, %v; want 3 deliveries", made, err)
	}
	if made, err := d.ExpandNotifications(ctx, []string{"https://a.example/hook"}, true); err != nil || made != 0 {
		t.Fatalf("ExpandNotifications() again = %d, %v; want 0", made, err)
	}
	got, err := d.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(got) != 3 {
		t.Fatalf("ClaimDeliveries() = %d, %v; want 3", len(got), err)
	}
	for _, dl := range got {
		if dl.Attempts != 1 || dl.Notification.JobID != j.ID {
			t.Errorf("claimed %+v, want attempt 1 of job %d", dl, j.ID)
		}
	}
	if again, err := d.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("ClaimDeliveries() during the lease = %d, %v; want none", len(again), err)
	}
	if err := d.DeliverySent(ctx, got[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := d.DeliveryFailed(ctx, got[1].ID, "HTTP 503", now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// got[2] is neither: its sender "died". After the lease both the
	// retried and the abandoned one are due; the sent one never again.
	now = now.Add(61 * time.Second)
	again, err := d.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(again) != 2 {
		t.Fatalf("ClaimDeliveries() after the lease = %d, %v; want 2", len(again), err)
	}
	for _, dl := range again {
		if dl.ID == got[0].ID || dl.Attempts != 2 {
			t.Errorf("claimed again %+v, want the two unsent at attempt 2", dl)
		}
	}
	if err := d.DeliveryFailed(ctx, again[0].ID, "HTTP 500", time.Time{}); err != nil {
		t.Fatal(err)
	}
	audit, err := d.AuditBefore(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if audit[0].Action != "notification failed" || audit[0].JobID != j.ID ||
		!strings.Contains(audit[0].Detail, "HTTP 500 (after 2 attempts)") {
		t.Errorf("newest audit entry = %+v, want the delivery given up", audit[0])
	}
	if strings.Contains(audit[0].Detail, "t0ken") || !strings.Contains(audit[0].Detail, "webhook https://b.example/hook?REDACTED") {
		t.Errorf("audit detail %q shows the webhook URL's query", audit[0].Detail)
	}
	now = now.Add(time.Hour)
	last, err := d.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(last) != 1 || last[0].ID != again[1].ID {
		t.Fatalf("ClaimDeliveries() at the end = %+v, %v; want only the leased-out one", last, err)
	}
	all, err := d.JobDeliveries(ctx, j.ID)
	if err != nil || len(all) != 3 {
		t.Fatalf("JobDeliveries() = %d, %v", len(all), err)
	}
	counts, err := d.JobDeliveryCounts(ctx, j.ID)
	if err != nil || counts.Sent != 1 || counts.Pending != 1 || counts.Failed != 1 || counts.LastError != "HTTP 500" {
		t.Errorf("JobDeliveryCounts() = %+v, %v; want 1 sent, 1 pending, 1 given up with HTTP 500", counts, err)
	}
	var sent, failed int
	for _, dl := range all {
		if !dl.SentAt.IsZero() {
			sent++
		}
		if !dl.FailedAt.IsZero() {
			failed++
		}
	}
	if sent != 1 || failed != 1 {
		t.Errorf("JobDeliveries(): %d sent, %d given up; want 1 and 1", sent, failed)
	}
}

// TestDeliveryWithoutChannel: a job asking for e-mail when no relay is
// configured gets a delivery that failed at once, in the audit and in the
// mailbox's history for a mailbox's notification.
func TestDeliveryWithoutChannel(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateNotifyJob(t, d, "ops@example.org", false, "ann")
	ms[0].State = model.MoveFailed
	if err := d.SaveMove(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	if made, err := d.ExpandNotifications(ctx, nil, false); err != nil || made != 1 {
		t.Fatalf("ExpandNotifications() = %d, %v", made, err)
	}
	if due, err := d.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(due) != 0 {
		t.Fatalf("ClaimDeliveries() = %d, %v; want none", len(due), err)
	}
	events, err := d.Events(ctx, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[len(events)-1].Kind != "notify-failed" ||
		!strings.Contains(events[len(events)-1].Message, "no SMTP relay is configured") {
		t.Errorf("mailbox events = %+v, want the unsent notification", events)
	}
	audit, err := d.AuditBefore(ctx, 0, 1)
	if err != nil || len(audit) != 1 || audit[0].JobID != j.ID || audit[0].Action != "notification failed" {
		t.Errorf("AuditBefore() = %+v, %v", audit, err)
	}
}

// TestNotificationSurvivesReopen: a notification committed before the
// process ended is delivered by the next one, and a delivery leased by
// the dead one is due again after its lease.
func TestNotificationSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	d.Now = func() time.Time { return testNow }
	j := finishedJob(t, d, "")
	if _, err := d.ExpandNotifications(ctx, []string{"https://a.example/hook"}, false); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ClaimDeliveries(ctx, 10, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("ClaimDeliveries() = %d, %v", len(got), err)
	}
	if err := d.Close(); err != nil { // the process ends mid-delivery
		t.Fatal(err)
	}
	d2 := mustOpenDBAt(t, path)
	d2.Now = func() time.Time { return testNow.Add(2 * time.Minute) }
	got, err := d2.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimDeliveries() after reopen = %d, %v; want 1", len(got), err)
	}
	if got[0].Notification.JobID != j.ID || got[0].Notification.Key != "job-"+itoa(j.ID)+"-finished-1" || got[0].Attempts != 2 {
		t.Errorf("after reopen claimed %+v", got[0])
	}
}
