package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestServeNotifies: serve reads [notify] from its file and delivers
// what the outbox holds: a notification committed while no serve ran
// (a job that finished in another process, or before a crash) and those
// of a job it runs itself.
func TestServeNotifies(t *testing.T) {
	t.Parallel()
	s := startServers(t, 1)
	cfg := serveConfig(t, s, "serve-notify.db")
	hook := testenv.StartWebhookSink(t)
	relay := testenv.StartSMTPSink(t, "", "")
	writeFile(t, s.dir, "hook.secret", "hook-key\n")
	body, err := os.ReadFile(cfg.config)
	if err != nil {
		t.Fatal(err)
	}
	body = append(body, fmt.Sprintf(`
[notify]
base_url = %q

[[notify.webhooks]]
url = %q
secret_file = "hook.secret"

[notify.smtp]
address = %q
from = "movewizard@example.org"
starttls = "none"
`, cfg.base, hook.URL, relay.Addr)...)
	if err := os.WriteFile(cfg.config, body, 0o600); err != nil {
		t.Fatal(err)
	}

	// Before serve starts: a job that ended without a sender running.
	ctx := context.Background()
	d, err := db.Open(ctx, cfg.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	early, err := d.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, CreatedBy: "test",
		NotifyEmails: "ops@example.org", NotifyWebhook: true}, []string{"nobody-here"})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := d.Moves(ctx, early.ID)
	if err != nil {
		t.Fatal(err)
	}
	moves[0].State, moves[0].Error, moves[0].FinishedAt = model.MoveFailed, "the user is not in the directory", time.Now()
	if err := d.SaveMove(ctx, moves[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FinishJobIfDone(ctx, early.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	job := serveJob()
	job.NotifyEmails = "lead@example.org"
	jobID := serveCreateJob(t, cfg.dbPath, job, s.users)

	p := serveStart(t, s, cfg)
	serveWaitDone(t, p, cfg, jobID)
	giveUp := make(chan struct{})
	timer := time.AfterFunc(binTimeout, func() { close(giveUp) })
	defer timer.Stop()
	// The early job: its mailbox and its end, by e-mail and webhook; the
	// served job: its end, by e-mail only.
	mails := relay.WaitMails(3, giveUp)
	posts := hook.WaitPosts(2, giveUp)
	p.stop(t)
	if len(mails) != 3 || len(posts) != 2 {
		t.Fatalf("the sinks got %d mails and %d posts, want 3 and 2: %s", len(mails), len(posts), p)
	}
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, strings.Join(m.To, ",")+": "+m.Subject(t))
	}
	for _, want := range []string{
		fmt.Sprintf("ops@example.org: Move job #%d: mailbox nobody-here failed", early.ID),
		fmt.Sprintf("ops@example.org: Move job #%d failed: 0 of 1 mailbox moved", early.ID),
		fmt.Sprintf("lead@example.org: Move job #%d done: 1 of 1 mailbox moved", jobID),
	} {
		if !strings.Contains(strings.Join(subjects, "\n"), want) {
			t.Errorf("mails %q, want one %q", subjects, want)
		}
	}
	for _, post := range posts {
		var pl notify.Payload
		if err := json.Unmarshal(post.Body, &pl); err != nil {
			t.Fatal(err)
		}
		if pl.Job.ID != early.ID || post.Header.Get("X-Movewizard-Signature") != notify.Sign("hook-key", post.Body) ||
			!strings.HasPrefix(pl.Job.URL, cfg.base+"/jobs/") {
			t.Errorf("webhook post %s (signature %q), want the early job's, signed with the secret file's key",
				post.Body, post.Header.Get("X-Movewizard-Signature"))
		}
	}
}
