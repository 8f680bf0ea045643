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

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers/app"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// scaleApp is the web application over a job store seeded with one large
// job, without a running runner: the moves stay as seeded (the job starts
// in an hour), and the test publishes progress itself.
type scaleApp struct {
	ts      *httptest.Server
	handler http.Handler
	db      *db.DB
	broker  *progress.Broker
	job     model.Job
	moves   []model.Move // in creation order
}

// scaleRunning is how many moves of a scale job run: the first ones, so
// that the default first page shows them.
const scaleRunning = 30

// newScaleApp seeds a job of n mailboxes u00001... in a mix of states:
// the first scaleRunning running, then per ten: six done, one failed with
// an error, one abandoned, two queued. Sign-ins: alice (admin), hank
// (helpdesk).
func newScaleApp(tb testing.TB, n int) *scaleApp {
	tb.Helper()
	cfg := testenv.Config(tb)
	store := testenv.OpenDB(tb, cfg.Database)
	auth := directory.NewMemAuth()
	auth.Add("alice", "Alice Admin", "alicepw", model.RoleAdmin)
	auth.Add("hank", "Hank Helpdesk", "hankpw", model.RoleHelpdesk)
	service := app.New(app.Options{Config: cfg, DB: store, Dir: directory.NewMem(), Auth: auth})
	a := &scaleApp{db: store, broker: service.Broker, handler: service.UI.Handler()}
	a.ts = httptest.NewServer(a.handler)
	tb.Cleanup(a.ts.Close)

	ctx := context.Background()
	uids := make([]string, n)
	for i := range uids {
		uids[i] = fmt.Sprintf("u%05d", i+1)
	}
	j, err := store.CreateJob(ctx, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: scaleRunning,
		StartAt: time.Now().Add(time.Hour)}, uids)
	if err != nil {
		tb.Fatal(err)
	}
	a.job = j
	if a.moves, err = store.Moves(ctx, j.ID); err != nil {
		tb.Fatal(err)
	}
	for i := range a.moves {
		m := &a.moves[i]
		m.MsgsTotal, m.BytesTotal = int64(100+i%400), int64(1<<20+i*4096)
		switch k := i % 10; {
		case i < scaleRunning:
			m.State, m.Phase, m.CurrentFolder = model.MoveRunning, model.PhaseCopy, "INBOX"
			m.MsgsDone, m.BytesDone = m.MsgsTotal/2, m.BytesTotal/2
		case k < 6:
			m.State, m.Phase, m.MsgsDone, m.BytesDone = model.MoveDone, model.PhaseDone, m.MsgsTotal, m.BytesTotal
		case k == 6:
			m.State, m.Phase, m.Error = model.MoveFailed, model.PhaseCopy, "the source server closed the connection"
			m.MsgsDone, m.BytesDone = m.MsgsTotal/3, m.BytesTotal/3
		case k == 7:
			m.State, m.Phase, m.Error, m.Skipped = model.MoveAbandoned, model.PhaseCopy, "more bad items than the 0 allowed", 1
		default:
			m.MsgsTotal, m.BytesTotal = 0, 0 // queued: not measured yet
			continue
		}
		if err := store.SaveMove(ctx, *m); err != nil {
			tb.Fatal(err)
		}
	}
	return a
}

// cookies signs in as login and returns the session cookies.
func (a *scaleApp) cookies(tb testing.TB, login, password string) []*http.Cookie {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/signin", strings.NewReader(url.Values{"login": {login}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("sign in as %s: status %d", login, resp.StatusCode)
	}
	u, _ := url.Parse(a.ts.URL)
	return jar.Cookies(u)
}

// serve runs one request through the handler in process: the time is the
// server's alone, without a network or a client.
func (a *scaleApp) serve(cookies []*http.Cookie, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return rec
}

// BenchmarkJobPage measures the job page of a job of 1,000 and 10,000
// mailboxes: ns/op is the server's time per page (store queries, broker
// look-ups, rendering), html-bytes the page's size. Targets (issue 11):
// under 100 ms and 200 KB. Run: go test -run '^$' -bench JobPage ./handlers/
func BenchmarkJobPage(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		a := newScaleApp(b, n)
		cookies := a.cookies(b, "alice", "alicepw")
		// The running moves have rates, as during a move.
		a.publishRunning()
		time.Sleep(20 * time.Millisecond)
		a.publishRunning()
		for _, q := range []struct{ name, query string }{
			{"default", ""},
			{"state-failed", "?state=failed"},
			{"search", "?q=u0999"},
			{"sort-progress-desc-page-20", "?sort=progress&dir=desc&page=20"},
			{"sort-state", "?sort=state"},
			{"sort-rate", "?sort=rate&dir=desc"},
			{"sort-errors-last-page", fmt.Sprintf("?sort=errors&dir=desc&page=%d", n/50)},
		} {
			path := fmt.Sprintf("/jobs/%d%s", a.job.ID, q.query)
			b.Run(fmt.Sprintf("%d/%s", n, q.name), func(b *testing.B) {
				var size int
				for b.Loop() {
					rec := a.serve(cookies, path)
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body.String())
					}
					size = rec.Body.Len()
				}
				b.ReportMetric(float64(size), "html-bytes")
			})
		}
	}
}

// publishRunning publishes the running moves' progress as the mover would,
// a little further at each call, so that they have rates.
func (a *scaleApp) publishRunning() {
	for i := range a.moves[:min(scaleRunning, len(a.moves))] {
		m := &a.moves[i]
		m.BytesDone = min(m.BytesTotal, m.BytesDone+int64(1024*(i+1)))
		a.broker.Publish(*m)
	}
}
