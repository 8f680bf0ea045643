package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/handlers/app"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// testApp is the whole web application on httptest with in-process IMAP
// servers, an in-memory directory and a running runner.
type testApp struct {
	srv      *handlers.Server
	ts       *httptest.Server
	db       *db.DB
	src, dst *imapmem.Server
	dir      *directory.Mem
	cfg      *config.Config
	runner   *migrate.Runner
	broker   *progress.Broker
}

// Users: user01..user05 live on src with 10 messages each; ghost's home is
// no registered server. Sign-ins: alice (admin), hank (helpdesk), olga
// (no role).
func newTestApp(t *testing.T, configure ...func(*config.Config)) *testApp {
	t.Helper()
	env := testenv.Start(t, testenv.Options{SrcDelimiter: '.', DstDelimiter: '/', Group: "g1"})
	a := &testApp{src: env.Src, dst: env.Dst, cfg: env.Config, db: env.DB}
	a.cfg.RetryPatience = 5 * time.Second
	var users []directory.User
	for i := 1; i <= 5; i++ {
		uid := fmt.Sprintf("user%02d", i)
		a.src.AddUser(uid, "pw")
		a.dst.AddUser(uid, "pw")
		var msgs []testenv.Msg
		for j := 0; j < 10; j++ {
			body := fmt.Sprintf("From: a@example.org\r\nSubject: hello %d\r\nMessage-ID: <%s.%d@example.org>\r\n\r\nbody\r\n", j, uid, j)
			msgs = append(msgs, testenv.Msg{Folder: "INBOX", Flags: []imap.Flag{imap.FlagSeen},
				Date: time.Date(2020, 1, 1+j, 0, 0, 0, 0, time.UTC), Body: []byte(body)})
		}
		testenv.Seed(t, a.src, uid, msgs...)
		users = append(users, directory.User{DN: "uid=" + uid + ",ou=people,dc=example,dc=org", UID: uid,
			Name: fmt.Sprintf("User %02d", i), Mail: uid + "@example.org", Home: testenv.SrcHome})
	}
	users = append(users, directory.User{DN: "uid=ghost,ou=people,dc=example,dc=org", UID: "ghost", Name: "Ghost",
		Mail: "ghost@example.org", Home: "gone.example.org"})
	a.dir = directory.NewMem(users...)
	a.dir.SetGroup("wave1", "user01", "user03", "user05")
	auth := directory.NewMemAuth()
	auth.Add("alice", "Alice Admin", "alicepw", model.RoleAdmin)
	auth.Add("hank", "Hank Helpdesk", "hankpw", model.RoleHelpdesk)
	auth.Add("olga", "Olga Other", "olgapw", "")
	for _, c := range configure { // e.g. a [notify] section
		c(a.cfg)
	}
	service := app.New(app.Options{Config: a.cfg, DB: a.db, Dir: a.dir, Auth: auth, Poll: 50 * time.Millisecond})
	a.srv, a.runner, a.broker = service.UI, service.Runner, service.Broker
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.runner.Run(ctx); close(done) }()
	notified := make(chan struct{})
	go func() { service.Notifier.Run(ctx); close(notified) }()
	t.Cleanup(func() { cancel(); <-done; <-notified })
	a.ts = httptest.NewServer(a.srv.Handler())
	t.Cleanup(a.ts.Close)
	return a
}

// client returns an HTTP client signed in as login (or anonymous for "").
func (a *testApp) client(t *testing.T, login, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if login == "" {
		return c
	}
	resp, body := a.post(t, c, "/signin", url.Values{"login": {login}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d, body %s", login, resp.StatusCode, body)
	}
	return c
}

func (a *testApp) admin(t *testing.T) *http.Client    { return a.client(t, "alice", "alicepw") }
func (a *testApp) helpdesk(t *testing.T) *http.Client { return a.client(t, "hank", "hankpw") }

// get fetches path and returns the response (body already read) and body.
func (a *testApp) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(a.ts.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post sends a form the way a same-origin browser does.
func (a *testApp) post(t *testing.T, c *http.Client, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// crossSitePost sends a form the way a browser does from another site.
func (a *testApp) crossSitePost(t *testing.T, c *http.Client, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

// createJob makes a job directly in the database (the wizard's tests go
// through the pages instead).
func (a *testApp) createJob(t *testing.T, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 4}, uids)
	if err != nil {
		t.Fatal(err)
	}
	a.runner.Wake()
	return j
}

// waitJob waits until the job has finished (bounded, so a broken runner
// fails the test instead of hanging it).
func (a *testApp) waitJob(t *testing.T, id int64) model.Job {
	t.Helper()
	for i := 0; i < 600; i++ {
		j, err := a.db.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !j.FinishedAt.IsZero() {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("job %d did not finish", id)
	return model.Job{}
}
