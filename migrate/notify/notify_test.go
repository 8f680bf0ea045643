package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// clock is a settable clock for the job store, so that retries become due
// by moving it rather than by waiting.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)} }
func openStore(t *testing.T, c *clock) *db.DB {
	return openStoreAt(t, filepath.Join(t.TempDir(), "mw.db"), c)
}

func openStoreAt(t *testing.T, path string, c *clock) *db.DB {
	t.Helper()
	store := testenv.OpenDB(t, path)
	store.Now = c.now
	return store
}

// finishJob creates a job of the uids to "dst" telling emails (and the
// webhook if webhook), ends its moves in the given states and finishes it.
func finishJob(t *testing.T, store *db.DB, emails string, webhook bool, uids []string, states []model.MoveState, errs []string) model.Job {
	t.Helper()
	ctx := context.Background()
	j, err := store.CreateJob(ctx, model.Job{CreatedBy: "admin", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		NotifyEmails: emails, NotifyWebhook: webhook}, uids)
	if err != nil {
		t.Fatal(err)
	}
	moves, err := store.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range moves {
		m.State, m.Error, m.FinishedAt = states[i], errs[i], store.Now()
		if err := store.SaveMove(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := store.FinishJobIfDone(ctx, j.ID); err != nil || !done {
		t.Fatalf("FinishJobIfDone() = %v, %v", done, err)
	}
	return j
}

func flush(t *testing.T, s *notify.Sender) int {
	t.Helper()
	n, err := s.Flush(context.Background())
	if err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	return n
}

func TestWebhookDelivery(t *testing.T) {
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartWebhookSink(t)
	s := &notify.Sender{DB: store, Config: config.Notify{BaseURL: "https://mw.example.org/",
		Webhooks: []config.Webhook{{URL: sink.URL, Secret: "hmac-key", Header: "Authorization",
			HeaderValue: "Bearer tok", Timeout: 5 * time.Second}}}}
	j := finishJob(t, store, "", true, []string{"ann", "bob", "cid"},
		[]model.MoveState{model.MoveDone, model.MoveDone, model.MoveFailed}, []string{"", "", "the source refused the login"})

	if n := flush(t, s); n != 2 {
		t.Fatalf("Flush() attempted %d deliveries, want 2 (cid failed, the job finished)", n)
	}
	posts := sink.Posts()
	if len(posts) != 2 {
		t.Fatalf("the webhook got %d posts, want 2", len(posts))
	}
	for _, p := range posts {
		if got, want := p.Header.Get("X-Movewizard-Signature"), notify.Sign("hmac-key", p.Body); got != want {
			t.Errorf("signature = %q, want %q (HMAC-SHA256 of the body)", got, want)
		}
		if p.Header.Get("Authorization") != "Bearer tok" || p.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers = %v", p.Header)
		}
	}
	var mbox, fin notify.Payload
	if err := json.Unmarshal(posts[0].Body, &mbox); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(posts[1].Body, &fin); err != nil {
		t.Fatal(err)
	}
	if mbox.Event != "mailbox.failed" || mbox.Mailbox == nil || mbox.Mailbox.UID != "cid" ||
		mbox.Mailbox.Error != "the source refused the login" || !strings.HasPrefix(mbox.Mailbox.URL, "https://mw.example.org/moves/") {
		t.Errorf("mailbox payload = %s", posts[0].Body)
	}
	jobURL := "https://mw.example.org/jobs/" + itoa(j.ID)
	if fin.Event != "job.finished" || fin.ID != "job-"+itoa(j.ID)+"-finished-1" || fin.Job.ID != j.ID ||
		fin.Job.Outcome != "completed-with-errors" || fin.Job.Moved != 2 || fin.Job.Mailboxes != 3 ||
		fin.Job.Counts["done"] != 2 || fin.Job.Counts["failed"] != 1 || fin.Job.URL != jobURL || fin.Mailbox != nil {
		t.Errorf("job payload = %s", posts[1].Body)
	}
	if want := "Move job #" + itoa(j.ID) + " completed with errors: 2 of 3 mailboxes moved"; fin.Summary != want {
		t.Errorf("summary = %q, want %q", fin.Summary, want)
	}
	if n := flush(t, s); n != 0 || len(sink.Posts()) != 2 {
		t.Errorf("a second Flush() attempted %d, the webhook has %d posts; want nothing new", n, len(sink.Posts()))
	}
	dls, err := store.JobDeliveries(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, dl := range dls {
		if dl.SentAt.IsZero() {
			t.Errorf("delivery %+v not recorded as sent", dl)
		}
	}
}

// TestWebhookRetry: a failing receiver is tried again after the back-off,
// with the same id; after MaxAttempts the delivery is given up and the
// audit says so.
func TestWebhookRetry(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartWebhookSink(t)
	s := &notify.Sender{DB: store, MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Minute },
		Config: config.Notify{Webhooks: []config.Webhook{{URL: sink.URL, Timeout: 5 * time.Second}}}}
	j := finishJob(t, store, "", true, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})

	sink.FailNext(2)
	if n := flush(t, s); n != 1 {
		t.Fatalf("Flush() = %d, want 1", n)
	}
	if n := flush(t, s); n != 0 {
		t.Fatalf("Flush() before the back-off = %d, want 0", n)
	}
	c.advance(time.Minute)
	if n := flush(t, s); n != 1 || len(sink.Posts()) != 0 {
		t.Fatalf("second attempt: Flush() = %d, posts %d; want 1 attempt refused", n, len(sink.Posts()))
	}
	c.advance(time.Minute)
	if n := flush(t, s); n != 1 || len(sink.Posts()) != 1 {
		t.Fatalf("third attempt: Flush() = %d, posts %d; want it delivered", n, len(sink.Posts()))
	}
	var p notify.Payload
	if err := json.Unmarshal(sink.Posts()[0].Body, &p); err != nil || p.ID != "job-"+itoa(j.ID)+"-finished-1" {
		t.Errorf("delivered payload id = %q, %v", p.ID, err)
	}

	// A second job whose receiver keeps failing: given up after 3.
	j2 := finishJob(t, store, "", true, []string{"bob"}, []model.MoveState{model.MoveDone}, []string{""})
	sink.FailNext(100)
	for i := 0; i < 3; i++ {
		if n := flush(t, s); n != 1 {
			t.Fatalf("attempt %d: Flush() = %d, want 1", i+1, n)
		}
		c.advance(time.Minute)
	}
	if n := flush(t, s); n != 0 {
		t.Errorf("Flush() after the last attempt = %d, want 0", n)
	}
	dls, err := store.JobDeliveries(ctx, j2.ID)
	if err != nil || len(dls) != 1 || dls[0].FailedAt.IsZero() || !strings.Contains(dls[0].LastError, "500") {
		t.Fatalf("JobDeliveries() = %+v, %v; want one given up with the status", dls, err)
	}
	audit, err := store.AuditBefore(ctx, 0, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "notification failed" || audit[0].JobID != j2.ID ||
		!strings.Contains(audit[0].Detail, "after 3 attempts") {
		t.Errorf("AuditBefore() = %+v, %v", audit, err)
	}
}

func TestWebhookTimeoutAndNon2xx(t *testing.T) {
	c := newClock()
	store := openStore(t, c)
	// Nothing listens on this address: the attempt fails, is retried later.
	s := &notify.Sender{DB: store, Config: config.Notify{Webhooks: []config.Webhook{{URL: "http://127.0.0.1:1/hook", Timeout: 2 * time.Second}}}}
	j := finishJob(t, store, "", true, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})
	if n := flush(t, s); n != 1 {
		t.Fatalf("Flush() = %d", n)
	}
	dls, err := store.JobDeliveries(context.Background(), j.ID)
	if err != nil || len(dls) != 1 || dls[0].LastError == "" || !dls[0].FailedAt.IsZero() || !dls[0].SentAt.IsZero() {
		t.Errorf("JobDeliveries() = %+v, %v; want a failed attempt to retry", dls, err)
	}
}

func TestSMTPDelivery(t *testing.T) {
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartSMTPSink(t, "mw", "smtp-pw")
	s := &notify.Sender{DB: store, Config: config.Notify{BaseURL: "https://mw.example.org",
		SMTP: &config.SMTP{Address: sink.Addr, From: "movewizard@example.org", Username: "mw", Password: "smtp-pw",
			StartTLS: config.SMTPStartTLSIfOffered, Timeout: 5 * time.Second}}}
	// A uid and an error with line breaks must not make headers.
	evil := "eve\r\nBcc: victim@example.org"
	j := finishJob(t, store, "ops@example.org,lead@example.org", false, []string{"ann", "bob", evil},
		[]model.MoveState{model.MoveDone, model.MoveDone, model.MoveAbandoned},
		[]string{"", "", "message 7 cannot be read\r\nX-Injected: yes"})

	if n := flush(t, s); n != 2 {
		t.Fatalf("Flush() = %d, want 2", n)
	}
	mails := sink.Mails()
	if len(mails) != 2 {
		t.Fatalf("the sink got %d mails, want 2", len(mails))
	}
	for _, m := range mails {
		if m.From != "movewizard@example.org" || strings.Join(m.To, ",") != "ops@example.org,lead@example.org" || m.AuthUser != "mw" {
			t.Errorf("envelope = from %q to %q (auth %q)", m.From, m.To, m.AuthUser)
		}
		h := m.Header(t)
		if h.Get("Bcc") != "" || h.Get("X-Injected") != "" {
			t.Errorf("header injection: %q", m.Data)
		}
		if h.Get("To") != "ops@example.org, lead@example.org" || !strings.HasSuffix(h.Get("Message-ID"), "@movewizard>") {
			t.Errorf("headers To %q Message-ID %q", h.Get("To"), h.Get("Message-ID"))
		}
	}
	if got, want := mails[0].Subject(t), "Move job #"+itoa(j.ID)+": mailbox eve  Bcc: victim@example.org abandoned"; got != want {
		t.Errorf("mailbox mail subject = %q, want %q", got, want)
	}
	if got, want := mails[1].Subject(t), "Move job #"+itoa(j.ID)+" completed with errors: 2 of 3 mailboxes moved"; got != want {
		t.Errorf("job mail subject = %q, want %q", got, want)
	}
	body := mails[1].Body(t)
	for _, want := range []string{"Outcome:  completed with errors", "1 abandoned, 2 done, 3 in all",
		"Job page: https://mw.example.org/jobs/" + itoa(j.ID), "Notification job-" + itoa(j.ID) + "-finished-1"} {
		if !strings.Contains(body, want) {
			t.Errorf("job mail body = %q, want it to contain %q", body, want)
		}
	}
	if b := mails[0].Body(t); !strings.Contains(b, "Error:    message 7 cannot be read  X-Injected: yes") {
		t.Errorf("mailbox mail body = %q", b)
	}
}

func TestSMTPStartTLSRequired(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartSMTPSink(t, "", "")
	s := &notify.Sender{DB: store, MaxAttempts: 1, Config: config.Notify{SMTP: &config.SMTP{Address: sink.Addr,
		From: "mw@example.org", StartTLS: config.SMTPStartTLSRequired, Timeout: 5 * time.Second}}}
	j := finishJob(t, store, "ops@example.org", false, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})
	flush(t, s)
	if n := len(sink.Mails()); n != 0 {
		t.Fatalf("the sink got %d mails over a connection without STARTTLS, want 0", n)
	}
	dls, err := store.JobDeliveries(ctx, j.ID)
	if err != nil || len(dls) != 1 || !strings.Contains(dls[0].LastError, "does not offer STARTTLS") {
		t.Errorf("JobDeliveries() = %+v, %v", dls, err)
	}
}

// TestSMTPRetryAndRefusal: a 451 is retried; a recipient refused with 550
// is not, and the others get the message once.
func TestSMTPRetryAndRefusal(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartSMTPSink(t, "", "")
	s := &notify.Sender{DB: store, Backoff: func(int) time.Duration { return time.Minute },
		Config: config.Notify{SMTP: &config.SMTP{Address: sink.Addr, From: "mw@example.org",
			StartTLS: config.SMTPStartTLSNone, Timeout: 5 * time.Second}}}
	sink.FailNext(1)
	sink.Refuse("gone@example.org")
	j := finishJob(t, store, "ops@example.org,gone@example.org", false, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})
	flush(t, s)
	if len(sink.Mails()) != 0 {
		t.Fatal("the first attempt got 451 and must not have sent")
	}
	c.advance(time.Minute)
	flush(t, s)
	mails := sink.Mails()
	if len(mails) != 1 || strings.Join(mails[0].To, ",") != "ops@example.org" {
		t.Fatalf("mails = %+v, want one to ops only", mails)
	}
	c.advance(time.Hour)
	if n := flush(t, s); n != 0 || len(sink.Mails()) != 1 {
		t.Errorf("after the refusal Flush() = %d with %d mails; want no retry", n, len(sink.Mails()))
	}
	dls, err := store.JobDeliveries(ctx, j.ID)
	if err != nil || len(dls) != 1 || dls[0].FailedAt.IsZero() || !strings.Contains(dls[0].LastError, "gone@example.org (550") {
		t.Errorf("JobDeliveries() = %+v, %v; want given up naming the refused address", dls, err)
	}
}

// TestSurvivesRestart: a notification committed before the process ended
// is sent by the next one.
func TestSurvivesRestart(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "mw.db")
	first, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	first.Now = c.now
	j := finishJob(t, first, "ops@example.org", false, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	store := openStoreAt(t, path, c)
	sink := testenv.StartSMTPSink(t, "", "")
	s := &notify.Sender{DB: store, Config: config.Notify{SMTP: &config.SMTP{Address: sink.Addr, From: "mw@example.org",
		StartTLS: config.SMTPStartTLSNone, Timeout: 5 * time.Second}}}
	flush(t, s)
	mails := sink.Mails()
	if len(mails) != 1 || !strings.Contains(mails[0].Subject(t), "Move job #"+itoa(j.ID)+" done: 1 of 1 mailbox moved") {
		t.Fatalf("after the restart the sink got %d mails: %+v", len(mails), mails)
	}
}

// TestRunDelivers: Run, woken, delivers without the test calling Flush,
// and stops with its context.
func TestRunDelivers(t *testing.T) {
	c := newClock()
	store := openStore(t, c)
	sink := testenv.StartWebhookSink(t)
	s := &notify.Sender{DB: store, Poll: time.Hour, Config: config.Notify{Webhooks: []config.Webhook{{URL: sink.URL, Timeout: 5 * time.Second}}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	finishJob(t, store, "", true, []string{"ann"}, []model.MoveState{model.MoveDone}, []string{""})
	s.Wake()
	timeout := make(chan struct{})
	timer := time.AfterFunc(30*time.Second, func() { close(timeout) })
	defer timer.Stop()
	if posts := sink.WaitPosts(1, timeout); len(posts) != 1 || !bytes.Contains(posts[0].Body, []byte(`"job.finished"`)) {
		t.Fatalf("posts = %d, want the job's", len(posts))
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
