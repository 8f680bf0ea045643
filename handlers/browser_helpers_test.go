package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers/app"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// The browser tests drive the real pages in headless Chromium against the
// whole application: a real OpenLDAP for sign-in and the directory, two
// in-process IMAP servers, the runner and the broker.

const (
	// browserMarkup is what an attacker puts into a subject, a folder name
	// or a display name; every page must show it as text.
	browserMarkup = "<script>alert(1)</script>"
	browserBold   = "<b>bold</b>"
	// browserEvilFolder is a source folder of every user; it holds one
	// message whose subject is browserEvilSubject.
	browserEvilFolder  = "Evil " + browserMarkup + " " + browserBold
	browserEvilSubject = "Hi " + browserMarkup + " " + browserBold
	// browserEvilName is the directory display name (cn) of user02.
	browserEvilName = "Eve " + browserMarkup
	// browserInboxMessages is how many messages each user has in INBOX.
	browserInboxMessages = 30
	// browserWait bounds every wait on the page, so that a broken page fails
	// the test instead of hanging it. It is not a speed assertion.
	browserWait = 60 * time.Second
)

// browserUsers are the mailbox owners, all on src.
var browserUsers = []string{"user01", "user02", "user03"}

// browserApp is the application under test, as the browser sees it.
type browserApp struct {
	ts       *httptest.Server
	db       *db.DB
	src, dst *imapmem.Server
	ldap     *testserver.Slapd
	dir      *directory.LDAP
	runner   *migrate.Runner
	// evilUID is the source UID of each user's message with markup in its
	// subject, in browserEvilFolder.
	evilUID map[string]imap.UID
	// points is the mover's hook at its named points (Mover.Crash), for
	// tests that act at one of them (browser_cancel_test.go).
	points browserPoints
}

// newBrowserApp starts slapd, both IMAP servers, the runner and the web
// server. Everything stops in t.Cleanup.
func newBrowserApp(t *testing.T, configure ...func(*config.Config)) *browserApp {
	t.Helper()
	a := &browserApp{evilUID: map[string]imap.UID{}}
	var people []testserver.SlapdUser
	for _, uid := range browserUsers {
		cn := "User " + strings.TrimPrefix(uid, "user")
		if uid == "user02" {
			cn = browserEvilName
		}
		people = append(people, testserver.SlapdUser{UID: uid, CN: cn, Mail: uid + "@example.org",
			Home: "src.example.org", Password: uid + "pw"})
	}
	people = append(people,
		testserver.SlapdUser{UID: "alice", CN: "Alice Admin", Mail: "alice@example.org", Password: "alicepw"},
		testserver.SlapdUser{UID: "hank", CN: "Hank Helpdesk", Mail: "hank@example.org", Password: "hankpw"})
	a.ldap = testserver.StartSlapd(t, testserver.SlapdOptions{Users: people, Groups: []testserver.SlapdGroup{
		{CN: "mail-admins", Members: []string{"alice"}},
		{CN: "helpdesk", Members: []string{"hank"}},
	}})
	dirCfg := config.Directory{URL: a.ldap.URL, BindDN: a.ldap.AdminDN, BindPassword: a.ldap.AdminPassword,
		BaseDN: a.ldap.BaseDN, UserFilter: "(objectClass=inetLocalMailRecipient)", HomeAttribute: "mailHost",
		AdminGroup: a.ldap.GroupDN("mail-admins"), HelpdeskGroup: a.ldap.GroupDN("helpdesk")}
	a.dir = directory.NewLDAP(dirCfg)

	env := testenv.Start(t, testenv.Options{SrcDelimiter: '.', DstDelimiter: '/', Group: "g1"})
	a.src, a.dst, a.db = env.Src, env.Dst, env.DB
	for _, uid := range browserUsers {
		a.evilUID[uid] = browserSeed(t, a.src, uid)
		a.dst.AddUser(uid, "pw")
	}
	cfg := env.Config
	cfg.RetryPatience, cfg.Directory = 5*time.Second, dirCfg
	for _, c := range configure { // e.g. a [notify] section
		c(cfg)
	}
	service := app.New(app.Options{Config: cfg, DB: a.db, Dir: a.dir, Auth: a.dir, Poll: 50 * time.Millisecond})
	service.Mover.Crash = a.points.at
	a.runner = service.Runner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.runner.Run(ctx); close(done) }()
	notified := make(chan struct{})
	go func() { service.Notifier.Run(ctx); close(notified) }()
	t.Cleanup(func() { cancel(); <-done; <-notified })
	a.ts = httptest.NewServer(service.UI.Handler())
	t.Cleanup(a.ts.Close)
	return a
}

// browserSeed gives uid a source mailbox: browserInboxMessages messages in
// INBOX and one message with markup in its subject, in a folder with markup
// in its name. It returns that message's UID.
func browserSeed(t *testing.T, s *imapmem.Server, uid string) imap.UID {
	t.Helper()
	s.AddUser(uid, "pw")
	msg := func(folder, subject string, n int) testenv.Msg {
		body := fmt.Sprintf("From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s.%d.%d@example.org>\r\n\r\nbody %d\r\n",
			subject, uid, len(folder), n, n)
		return testenv.Msg{Folder: folder, Flags: []imap.Flag{imap.FlagSeen}, Date: time.Date(2020, 1, 1, n, 0, 0, 0, time.UTC), Body: []byte(body)}
	}
	var msgs []testenv.Msg
	for i := 0; i < browserInboxMessages; i++ {
		msgs = append(msgs, msg("INBOX", fmt.Sprintf("hello %d", i), i))
	}
	testenv.Seed(t, s, uid, msgs...)
	if err := s.CreateMailbox(uid, browserEvilFolder, ""); err != nil {
		t.Fatal(err)
	}
	return testenv.Seed(t, s, uid, msg(browserEvilFolder, browserEvilSubject, 0))[browserEvilFolder][0]
}

// createJob makes a job directly in the database, as the wizard would.
func (a *browserApp) createJob(t *testing.T, j model.Job, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), j, uids)
	if err != nil {
		t.Fatal(err)
	}
	a.runner.Wake()
	return j
}

// waitJob waits (bounded) until the job has finished.
func (a *browserApp) waitJob(t *testing.T, id int64) model.Job {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		j, err := a.db.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !j.FinishedAt.IsZero() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d did not finish within %v; state %s", id, browserWait, j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browserTab is one headless Chromium tab. JavaScript dialogs (alert,
// confirm, prompt) and uncaught exceptions fail the test: our pages have
// none, so one means injected or broken script.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string // the application's URL
}

// newBrowser starts Chromium with one tab. t.Cleanup stops it.
func newBrowser(t *testing.T, base string) *browserTab {
	t.Helper()
	exe := testserver.RequireBinary(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		// Without these Chromium reaches for Google's services, which fail
		// on a closed network and can stall start-up.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium puts its singleton lock folder (org.chromium.Chromium.*)
		// in TMPDIR and leaves it behind: keep it in the test's own folder.
		chromedp.Env("TMPDIR="+t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
	})
	// The first action starts the browser; its context must have no
	// deadline (a deadline would stop the browser), so the start is bounded
	// from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(browserWait):
		t.Fatalf("chromium did not start within %v", browserWait)
	}

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("a JavaScript %s dialog opened with message %q: page script ran that should not", ev.Type, ev.Message)
			// Close it, or the page stays blocked.
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil && ctx.Err() == nil {
				t.Errorf("close dialog: %v", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			t.Errorf("uncaught JavaScript exception: %s", browserExceptionText(ev.ExceptionDetails))
		}
	}()
	return &browserTab{t: t, ctx: ctx, base: base}
}

func browserExceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += ": " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d)", s, d.URL, d.LineNumber)
}

// do runs the actions, bounded by browserWait.
func (b *browserTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

// open navigates to path and checks that the page answered 200.
func (b *browserTab) open(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status != 200 {
		b.t.Fatalf("open %s: status %d, want 200 (%s)", path, resp.Status, b.text("body"))
	}
}

// submit clicks sel, waits for the page it leads to and checks that the
// page answered 200.
func (b *browserTab) submit(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s on %s: %v", sel, b.location(), err)
	}
	if resp == nil || resp.Status != 200 {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		b.t.Fatalf("click %s: landed on %s with status %d, want 200: %s", sel, b.location(), status, b.text("main"))
	}
}

// signIn fills the sign-in form as a person would and waits for the
// signed-in frame.
func (b *browserTab) signIn(login, password string) {
	b.t.Helper()
	b.open("/signin")
	b.do("fill sign-in form",
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), password))
	b.submit("[data-testid=signin-submit]")
	if who := b.text("[data-testid=who]"); !strings.Contains(who, login) && !strings.Contains(strings.ToLower(who), strings.ToLower(login)) {
		b.t.Fatalf("after signing in as %s the page shows %q", login, who)
	}
}

// eval evaluates a JavaScript expression in the page, bounded by browserWait.
func browserEval[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll evaluates expr every 100ms until ok accepts its value, and fails the
// test with the last value after browserWait.
func browserPoll[T any](b *browserTab, what, expr string, ok func(T) bool) T {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		v := browserEval[T](b, expr)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: still %v after %v", what, v, browserWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text returns the text content of the first element matching sel, or ""
// when there is none (for failure messages and checks).
func (b *browserTab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	expr := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.textContent:""})()`, sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", sel, err)
	}
	return s
}

// count returns how many elements match sel.
func (b *browserTab) count(sel string) int {
	b.t.Helper()
	return browserEval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// location is the page's URL path, for failure messages.
func (b *browserTab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	return strings.TrimPrefix(loc, b.base)
}

// path returns the page's URL path.
func (b *browserTab) path() string {
	b.t.Helper()
	return browserEval[string](b, "location.pathname")
}
