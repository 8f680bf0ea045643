package migrate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// BenchmarkStagedCutover measures the cut-over window of staged moves (from
// the directory update to the end of the final delta pass) for 20 mailboxes
// completed together, between real Dovecots and OpenLDAP, while new mail
// keeps being delivered to whichever server the directory names. Each
// mailbox holds 300 messages of 2 KB to 150 KB (about the bench corpus's
// mean of 76 KB) in two folders. It reports p50, p95 and max of the
// windows, and fails if a delivered message is not on the target once.
//
//	go test ./migrate -run '^$' -bench StagedCutover -benchtime 1x
func BenchmarkStagedCutover(b *testing.B) {
	const users, perUser, parallel = 20, 300, 4
	ctx := context.Background()
	var uids []string
	for i := 1; i <= users; i++ {
		uids = append(uids, fmt.Sprintf("user%03d", i))
	}
	e := itNewEnv(b, itSetup{users: uids})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, u := range uids {
		c := itDial(b, e.src, u)
		if err := c.Create("Archive", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		var msgs []testenv.Msg
		for i := 0; i < perUser; i++ {
			folder := "INBOX"
			if i%3 == 0 {
				folder = "Archive"
			}
			body := fmt.Sprintf("From: a@example.org\r\nTo: %s@example.org\r\nSubject: corpus %d\r\nMessage-ID: <%s-%d@example.org>\r\n\r\n%s\r\n",
				u, i, u, i, strings.Repeat("lorem ipsum dolor sit amet\r\n", (2000+rng.IntN(150000))/28))
			msgs = append(msgs, testenv.Msg{Folder: folder, Flags: []imap.Flag{imap.FlagSeen}, Date: time.Date(2024, 1, 1+i%28, 0, 0, 0, 0, time.UTC), Body: []byte(body)})
		}
		testenv.Append(b, c, msgs...)
		c.Close()
	}
	e.cfg.ResyncInterval = time.Hour
	// MTAs and proxies cache the home for up to ttl; the move waits longer
	// than that after the directory update before its final delta.
	const ttl = time.Second
	e.cfg.Directory.PropagationDelay = 2 * ttl
	job := e.createJob(b, model.Job{Stage: true, Parallel: parallel}, uids...)
	mv := e.mover(nil)
	var offset time.Duration // moved forward to make the resync due
	mv.Now = func() time.Time { return time.Now().Add(offset) }
	runner := &migrate.Runner{Mover: mv, DB: e.db, Poll: 50 * time.Millisecond}
	synced := time.Now()
	moves, err := runner.RunJobs(ctx, job.ID)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range moves {
		if m.State != model.MoveSynced {
			b.Fatalf("%s: %s (%s), want synced", m.UID, m.State, m.Error)
		}
	}
	b.Logf("first sync of %d mailboxes: %v", users, time.Since(synced).Round(time.Millisecond))
	// A resync of the unchanged mailboxes (CONDSTORE: only what changed
	// since the last sync is read).
	offset = 2 * e.cfg.ResyncInterval
	resynced := time.Now()
	if moves, err = runner.RunJobs(ctx, job.ID); err != nil {
		b.Fatal(err)
	}
	for _, m := range moves {
		if m.State != model.MoveSynced || m.Syncs != 2 {
			b.Fatalf("%s after the resync: %s with %d syncs, want synced twice", m.UID, m.State, m.Syncs)
		}
	}
	b.Logf("resync of %d unchanged mailboxes: %v", users, time.Since(resynced).Round(time.Millisecond))

	// Delivery: one message every 20 ms, round robin over the users, to the
	// server the directory names, through a cache that keeps an answer for
	// ttl.
	dir := directory.NewLDAP(e.cfg.Directory)
	type cached struct {
		home string
		at   time.Time
	}
	cache := map[string]cached{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	delivered := map[string][]string{}
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			u := uids[i%users]
			if c, ok := cache[u]; !ok || time.Since(c.at) >= ttl {
				usr, err := dir.Lookup(ctx, u)
				if err != nil {
					b.Error(err)
					return
				}
				cache[u] = cached{usr.Home, time.Now()}
			}
			d := e.src
			if cache[u].home == itDstHome {
				d = e.dst
			}
			c, err := imapclient.DialInsecure(d.Addr, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if err := c.Login(d.MasterLogin(u), d.MasterPassword).Wait(); err != nil {
				b.Error(err)
				c.Close()
				return
			}
			subject := fmt.Sprintf("delivered [%d]", i)
			testenv.Append(b, c, testenv.Msg{Folder: "INBOX", Date: time.Now(),
				Body: []byte("From: mta@example.org\r\nSubject: " + subject + "\r\n\r\nnew mail\r\n")})
			c.Close()
			mu.Lock()
			delivered[u] = append(delivered[u], subject)
			mu.Unlock()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	if _, err := e.db.CompleteJob(ctx, job.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	moves, err = runner.RunJobs(ctx, job.ID)
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()

	var windows []time.Duration
	for _, m := range moves {
		if m.State != model.MoveDone {
			b.Fatalf("%s: %s (%s), want done", m.UID, m.State, m.Error)
		}
		windows = append(windows, m.CutoverWindow())
	}
	slices.Sort(windows)
	pct := func(p float64) time.Duration { return windows[min(len(windows)-1, int(p*float64(len(windows))))] }
	b.ReportMetric(pct(0.5).Seconds(), "p50-window-s")
	b.ReportMetric(pct(0.95).Seconds(), "p95-window-s")
	b.ReportMetric(windows[len(windows)-1].Seconds(), "max-window-s")
	b.Logf("completion of %d mailboxes (%d at once): %v; cut-over window p50 %v, p95 %v, max %v",
		users, parallel, elapsed.Round(time.Millisecond), pct(0.5).Round(time.Millisecond), pct(0.95).Round(time.Millisecond),
		windows[len(windows)-1].Round(time.Millisecond))

	// Each delivered message is on the target once, or (delivered through a
	// stale answer after the final delta) still on the source with the
	// move's source-kept event saying so.
	total, left := 0, 0
	count := func(c *imapclient.Client, subject string) int {
		res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
		if err != nil {
			b.Fatal(err)
		}
		return len(res.AllUIDs())
	}
	for i, u := range uids {
		dc, sc := itDial(b, e.dst, u), itDial(b, e.src, u)
		for _, c := range []*imapclient.Client{dc, sc} {
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
		}
		mu.Lock()
		want := delivered[u]
		mu.Unlock()
		for _, s := range want {
			onTarget, onSource := count(dc, s), count(sc, s)
			switch {
			case onTarget == 1 && onSource == 0:
			case onTarget == 0 && onSource == 1:
				left++
				events, err := e.db.Events(ctx, moves[i].ID)
				if err != nil {
					b.Fatal(err)
				}
				if !slices.ContainsFunc(events, func(ev model.Event) bool { return ev.Kind == "source-kept" }) {
					b.Errorf("%s: %q was left on the source without a source-kept event", u, s)
				}
			default:
				b.Errorf("%s: %q is %d times on the target and %d on the source, want once in all", u, s, onTarget, onSource)
			}
		}
		total += len(want)
		dc.Close()
		sc.Close()
	}
	b.Logf("%d messages delivered during the completion: %d on the target once, %d left on the source and reported", total, total-left, left)
}
