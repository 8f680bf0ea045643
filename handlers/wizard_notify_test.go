package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// notifySinks is a webhook receiver and an SMTP relay for a test app.
type notifySinks struct {
	hook  *testenv.WebhookSink
	relay *testenv.SMTPSink
}

// withNotify configures the app's [notify] section for new sinks.
func withNotify(t *testing.T, defaults ...string) (*notifySinks, func(*config.Config)) {
	t.Helper()
	s := &notifySinks{hook: testenv.StartWebhookSink(t), relay: testenv.StartSMTPSink(t, "", "")}
	return s, func(c *config.Config) {
		c.Notify = config.Notify{BaseURL: "https://mw.example.org", DefaultRecipients: defaults, DefaultWebhook: true,
			Webhooks: []config.Webhook{{URL: s.hook.URL, Secret: "hook-key", Timeout: 5 * time.Second}},
			SMTP: &config.SMTP{Address: s.relay.Addr, From: "movewizard@example.org", StartTLS: config.SMTPStartTLSNone,
				Timeout: 5 * time.Second}}
	}
}

func TestWizardNotifyNotConfigured(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	body := a.wizardGetOK(t, c, "/wizard/schedule")
	wantContains(t, "schedule step", body, `data-testid="notify-none"`, "No notifications are configured")
	wantNotContains(t, "schedule step", body, `name="notify_emails"`, `name="notify_webhook"`)
	// A hand-made post cannot ask for what is not configured.
	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"now"}, "parallel": {"2"},
		"notify_emails": {"ops@example.org"}, "notify_webhook": {"1"}}, "/wizard/summary")
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary", body, `data-testid="choice-notify">nobody (no notifications are configured)<`)
	a.post(t, c, "/wizard/start", nil)
	jobs, err := a.db.Jobs(context.Background(), "")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Jobs() = %v, %v", jobs, err)
	}
	if jobs[0].NotifyEmails != "" || jobs[0].NotifyWebhook {
		t.Errorf("job notify = %q, %v; want none", jobs[0].NotifyEmails, jobs[0].NotifyWebhook)
	}
}

// TestWizardNotify: the schedule step offers the configured channels with
// the config's defaults, refuses bad addresses naming them, and the job
// tells the chosen recipients and the webhook when it finishes.
func TestWizardNotify(t *testing.T) {
	sinks, configure := withNotify(t, "ops@example.org")
	a := newTestApp(t, configure)
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	body := a.wizardGetOK(t, c, "/wizard/schedule")
	wantContains(t, "schedule step", body, `name="notify_emails" value="ops@example.org"`, `name="notify_webhook" value="1" checked`)
	wantNotContains(t, "schedule step", body, `data-testid="notify-none"`)

	for _, tc := range []struct{ emails, want string }{
		{"ops@example.org, nobody", `&#34;nobody&#34; is not an e-mail address like name@example.org`},
		{"ops@example.org\r\nBcc: x@example.org", `&#34;Bcc: x@example.org&#34; is not an e-mail address`},
		{strings.Repeat("a@example.org,", 21), "Notify: 21 addresses; enter at most 20."},
	} {
		resp, body := a.post(t, c, "/wizard/schedule", url.Values{"when": {"now"}, "parallel": {"2"}, "notify_emails": {tc.emails}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("POST /wizard/schedule notify_emails=%q = %d, want 422", tc.emails, resp.StatusCode)
		}
		wantContains(t, "schedule with bad recipients", body, `data-testid="error-notify_emails"`, tc.want)
	}

	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"now"}, "parallel": {"2"},
		"notify_emails": {"ops@example.org, lead@example.org"}, "notify_webhook": {"1"}}, "/wizard/summary")
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary", body, `data-testid="choice-notify">e-mail to ops@example.org, lead@example.org and the webhook<`)
	resp, _ := a.post(t, c, "/wizard/start", nil)
	id, err := strconv.ParseInt(strings.TrimPrefix(resp.Header.Get("Location"), "/jobs/"), 10, 64)
	if err != nil {
		t.Fatalf("start redirected to %q", resp.Header.Get("Location"))
	}
	j := a.waitJob(t, id)
	if j.NotifyEmails != "ops@example.org,lead@example.org" || !j.NotifyWebhook || j.State != model.JobDone {
		t.Fatalf("job = %+v, want done, telling both and the webhook", j)
	}
	body = a.wizardGetOK(t, c, "/jobs/"+strconv.FormatInt(id, 10))
	wantContains(t, "job page", body, `data-testid="job-notify">e-mail to ops@example.org, lead@example.org and the webhook<`)

	giveUp := make(chan struct{})
	timer := time.AfterFunc(time.Minute, func() { close(giveUp) })
	defer timer.Stop()
	mails := sinks.relay.WaitMails(1, giveUp)
	posts := sinks.hook.WaitPosts(1, giveUp)
	if len(mails) != 1 || len(posts) != 1 {
		t.Fatalf("got %d mails and %d posts, want 1 and 1", len(mails), len(posts))
	}
	want := "Move job #" + strconv.FormatInt(id, 10) + " done: 2 of 2 mailboxes moved"
	if got := mails[0].Subject(t); got != want || strings.Join(mails[0].To, ",") != "ops@example.org,lead@example.org" {
		t.Errorf("mail %q to %q, want %q to both", got, mails[0].To, want)
	}
	var p notify.Payload
	if err := json.Unmarshal(posts[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Summary != want || p.Job.URL != "https://mw.example.org/jobs/"+strconv.FormatInt(id, 10) ||
		posts[0].Header.Get("X-Movewizard-Signature") != notify.Sign("hook-key", posts[0].Body) {
		t.Errorf("webhook payload = %s (signature %q)", posts[0].Body, posts[0].Header.Get("X-Movewizard-Signature"))
	}
}

func TestWizardScheduleLimits(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"cancel after 0", url.Values{"when": {"now"}, "cancel_after": {"0"}, "parallel": {"4"}},
			"Cancel after: &#34;0&#34; is not a number of hours from 1 to 48; leave it empty for never."},
		{"start in 9999", url.Values{"when": {"at"}, "start_at": {"9999-12-31T23:59"}, "parallel": {"4"}},
			"Start at: 9999-12-31T23:59 is more than a year ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.post(t, c, "/wizard/schedule", tc.form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("POST /wizard/schedule %v = %d, want 422", tc.form, resp.StatusCode)
			}
			wantContains(t, "schedule", body, tc.want)
		})
	}
}

// TestJobPageNotifyStatus: the job's settings card says how its
// notifications fared, with the receiver's answer while it fails.
func TestJobPageNotifyStatus(t *testing.T) {
	sinks, configure := withNotify(t)
	sinks.hook.FailNext(1000)
	a := newTestApp(t, configure)
	c := a.admin(t)
	j, err := a.db.CreateJob(context.Background(), model.Job{Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		CreatedBy: "alice", NotifyEmails: "ops@example.org", NotifyWebhook: true}, []string{"user01"})
	if err != nil {
		t.Fatal(err)
	}
	a.runner.Wake()
	a.waitJob(t, j.ID)
	giveUp := make(chan struct{})
	timer := time.AfterFunc(time.Minute, func() { close(giveUp) })
	defer timer.Stop()
	if mails := sinks.relay.WaitMails(1, giveUp); len(mails) != 1 {
		t.Fatalf("the relay got %d mails, want 1", len(mails))
	}
	// The webhook's first attempt is recorded after the mail or before
	// it; the page is read until it shows both (bounded).
	path := "/jobs/" + strconv.FormatInt(j.ID, 10)
	deadline := time.Now().Add(time.Minute)
	for {
		body := a.wizardGetOK(t, c, path)
		if strings.Contains(body, "1 sent, 1 waiting; last failure: webhook answered 500 Internal Server Error") {
			wantContains(t, "job page", body, `data-testid="job-notify">e-mail to ops@example.org and the webhook<`)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job page notify status never showed the failing webhook: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
