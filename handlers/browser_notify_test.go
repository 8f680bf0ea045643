package handlers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/notify"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// TestBrowserWizardNotifies: the admin sets the recipients in the wizard's
// schedule step (after a bad address is refused on the page), the job
// runs, and the test's SMTP sink receives the e-mail and its webhook the
// signed POST.
func TestBrowserWizardNotifies(t *testing.T) {
	hook := testenv.StartWebhookSink(t)
	relay := testenv.StartSMTPSink(t, "mw", "relay-pw")
	a := newBrowserApp(t, func(c *config.Config) {
		c.Notify = config.Notify{DefaultRecipients: []string{"ops@example.org"}, DefaultWebhook: true,
			Webhooks: []config.Webhook{{URL: hook.URL, Secret: "hook-key", Timeout: 5 * time.Second}},
			SMTP: &config.SMTP{Address: relay.Addr, From: "movewizard@example.org", Username: "mw", Password: "relay-pw",
				StartTLS: config.SMTPStartTLSIfOffered, Timeout: 5 * time.Second}}
	})
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")

	b.open("/wizard/users")
	b.do("paste a uid", chromedp.SendKeys(chromedp.ID("paste"), "user01"))
	b.submit("[data-testid=import]")
	b.submit("[data-testid=next]")
	b.do("choose dst", chromedp.Click(chromedp.ID("target-dst")))
	b.submit("[data-testid=next]")
	b.submit("[data-testid=next]") // the policy's defaults

	if got := b.path(); got != "/wizard/schedule" {
		t.Fatalf("the page is %s, want /wizard/schedule", got)
	}
	if got := browserEval[string](b, `document.getElementById("notify_emails").value`); got != "ops@example.org" {
		t.Errorf("recipients field = %q, want the configured default ops@example.org", got)
	}
	if !browserEval[bool](b, `document.querySelector("input[name=notify_webhook]").checked`) {
		t.Error("the webhook box is not checked, want the configured default")
	}
	b.do("enter a bad address",
		chromedp.Clear(chromedp.ID("notify_emails")),
		chromedp.SendKeys(chromedp.ID("notify_emails"), "ops@example.org, lead at example.org"),
		chromedp.Click(chromedp.CSS("[data-testid=next]")))
	msg := browserPoll(b, "the recipients' error", `(document.querySelector("[data-testid=error-notify_emails]")||{}).textContent||""`,
		func(s string) bool { return s != "" })
	if !strings.Contains(msg, `"lead at example.org" is not an e-mail address`) {
		t.Errorf("error = %q, want it to name the bad address", msg)
	}
	b.do("enter the recipients",
		chromedp.Clear(chromedp.ID("notify_emails")),
		chromedp.SendKeys(chromedp.ID("notify_emails"), "lead@example.org, ops@example.org"))
	b.submit("[data-testid=next]")
	if got := b.text("[data-testid=choice-notify]"); got != "e-mail to lead@example.org, ops@example.org and the webhook" {
		t.Errorf("summary notify = %q", got)
	}
	// As an admin would: read the preflight result before starting.
	status := browserPoll(b, "the preflight result", `(document.querySelector("[data-testid=preflight-user01] [data-field=status]")||{}).textContent||""`,
		func(s string) bool { return s == "ok" || s == "warning" || s == "problem" })
	if status != "ok" {
		t.Fatalf("preflight of user01 = %s, want ok: %s", status, b.text("[data-testid=preflight]"))
	}
	b.submit("[data-testid=start]")
	var jobID int64
	if _, err := fmt.Sscanf(b.path(), "/jobs/%d", &jobID); err != nil {
		t.Fatalf("after Start the page is %s, want /jobs/{id}", b.path())
	}
	if got := b.text("[data-testid=job-notify]"); got != "e-mail to lead@example.org, ops@example.org and the webhook" {
		t.Errorf("job settings notify = %q", got)
	}
	if j := a.waitJob(t, jobID); j.State != model.JobDone {
		t.Fatalf("job %d = %s, want done", jobID, j.State)
	}

	giveUp := make(chan struct{})
	timer := time.AfterFunc(browserWait, func() { close(giveUp) })
	defer timer.Stop()
	mails := relay.WaitMails(1, giveUp)
	posts := hook.WaitPosts(1, giveUp)
	if len(mails) != 1 || len(posts) != 1 {
		t.Fatalf("the sinks got %d mails and %d posts, want 1 and 1", len(mails), len(posts))
	}
	want := fmt.Sprintf("Move job #%d done: 1 of 1 mailbox moved", jobID)
	m := mails[0]
	if got := m.Subject(t); got != want {
		t.Errorf("mail subject = %q, want %q", got, want)
	}
	if strings.Join(m.To, ",") != "lead@example.org,ops@example.org" || m.AuthUser != "mw" || m.From != "movewizard@example.org" {
		t.Errorf("mail envelope from %q to %q (auth %q)", m.From, m.To, m.AuthUser)
	}
	if body := m.Body(t); !strings.Contains(body, "1 done, 1 in all") {
		t.Errorf("mail body = %q", body)
	}
	var p notify.Payload
	if err := json.Unmarshal(posts[0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Event != "job.finished" || p.Job.ID != jobID || p.Job.Outcome != "done" || p.Summary != want ||
		posts[0].Header.Get("X-Movewizard-Signature") != notify.Sign("hook-key", posts[0].Body) {
		t.Errorf("webhook POST = %s (signature %q)", posts[0].Body, posts[0].Header.Get("X-Movewizard-Signature"))
	}
}
