package migrate_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestRunnerJobNotifies: a real job over the in-process servers, one
// mailbox moved and one failing at preflight, while the sender runs:
// the webhook gets the failed mailbox and the finished job, the relay the
// same two e-mails, and the moves are not held up by the sinks.
func TestRunnerJobNotifies(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "ann")
	seedUsers(t, e, []string{"ann"}, 3)
	hook := testenv.StartWebhookSink(t)
	relay := testenv.StartSMTPSink(t, "", "")
	// The receiver fails the first POST: the sender retries it later,
	// and the job is finished long before.
	hook.FailNext(1)

	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 2, CreatedBy: "test",
		NotifyEmails: "ops@example.org", NotifyWebhook: true}, []string{"ann", "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := (&migrate.Runner{Mover: e.mover(), DB: e.db, Poll: 20 * time.Millisecond}).RunJobs(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]model.MoveState{}
	for _, m := range moves {
		states[m.UID] = m.State
	}
	if states["ann"] != model.MoveDone || states["ghost"] != model.MoveFailed {
		t.Fatalf("moves = %v, want ann done and ghost failed", states)
	}
	if got := manifest(t, e.dst, "ann", "INBOX"); len(got) != 3 {
		t.Fatalf("target INBOX has %d messages, want 3", len(got))
	}

	s := &notify.Sender{DB: e.db, Poll: 10 * time.Millisecond, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Config: config.Notify{
			Webhooks: []config.Webhook{{URL: hook.URL, Secret: "k", Timeout: 5 * time.Second}},
			SMTP:     &config.SMTP{Address: relay.Addr, From: "mw@example.org", StartTLS: config.SMTPStartTLSIfOffered, Timeout: 5 * time.Second},
		}}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() {
		stop()
		<-done
	}()
	giveUp := make(chan struct{})
	timer := time.AfterFunc(time.Minute, func() { close(giveUp) })
	defer timer.Stop()

	posts := hook.WaitPosts(2, giveUp)
	mails := relay.WaitMails(2, giveUp)
	if len(posts) != 2 || len(mails) != 2 {
		t.Fatalf("got %d posts and %d mails, want 2 and 2", len(posts), len(mails))
	}
	events := map[string]notify.Payload{}
	for _, p := range posts {
		var pl notify.Payload
		if err := json.Unmarshal(p.Body, &pl); err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("X-Movewizard-Signature") != notify.Sign("k", p.Body) {
			t.Errorf("post %s has a bad signature", pl.ID)
		}
		events[pl.Event] = pl
	}
	if f := events["mailbox.failed"]; f.Mailbox == nil || f.Mailbox.UID != "ghost" || f.Mailbox.Error == "" {
		t.Errorf("mailbox.failed = %+v", f)
	}
	if f := events["job.finished"]; f.Job.ID != j.ID || f.Job.Outcome != string(model.JobDoneWithErrors) || f.Job.Moved != 1 || f.Job.Mailboxes != 2 {
		t.Errorf("job.finished = %+v", f)
	}
	subjects := mails[0].Subject(t) + " | " + mails[1].Subject(t)
	want := "Move job #" + strconv.FormatInt(j.ID, 10) + " completed with errors: 1 of 2 mailboxes moved"
	if !strings.Contains(subjects, want) || !strings.Contains(subjects, "mailbox ghost failed") {
		t.Errorf("subjects = %q, want %q and ghost's failure", subjects, want)
	}
	for _, m := range mails {
		if strings.Join(m.To, ",") != "ops@example.org" {
			t.Errorf("mail to %q, want ops@example.org", m.To)
		}
	}
}
