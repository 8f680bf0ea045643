package migrate_test

// Integration tests: whole moves between two real Dovecot instances with a
// real OpenLDAP directory. The oracle is a manifest taken over IMAP: per
// folder, the multiset of (SHA-256 of the raw message, flags, INTERNALDATE).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

func TestIntegrationMoveDovecot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		src, dst testserver.DovecotOptions
		bigUser  string
	}{
		{"dot INBOX prefix to slash", testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true},
			testserver.DovecotOptions{Sep: "/", AutoSpecial: true}, "alice"},
		{"slash to dot", testserver.DovecotOptions{Sep: "/"}, testserver.DovecotOptions{Sep: "."}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users := []string{"alice", "bob", "carol"}
			e := itNewEnv(t, itSetup{src: tc.src, dst: tc.dst, users: users})
			before := map[string]itSnapshot{}
			for _, u := range users {
				o := itCorpusOptions{sep: e.src.Sep}
				if u == tc.bigUser {
					o.big = 20 << 20
				}
				n := e.seed(t, e.src, u, o)
				before[u] = itSnap(t, e.src, u)
				if got := before[u].total(); got != n {
					t.Fatalf("%s: source holds %d messages after seeding %d", u, got, n)
				}
			}
			itCheckCoverage(t, before["alice"])
			job := e.createJob(t, model.Job{Parallel: 2}, users...)
			moves := e.runJob(t, job.ID)
			for _, u := range users {
				m := moves[u]
				if m.State != model.MoveDone {
					t.Errorf("%s: move state = %s (%s), want %s", u, m.State, m.Error, model.MoveDone)
					continue
				}
				e.checkDone(t, m, before[u])
				e.checkTarget(t, u, before[u], tc.dst.AutoSpecial)
				e.checkSourceEmptied(t, u, tc.src.AutoSpecial)
				e.checkDirectory(t, u, itDstHome, 1)
			}
		})
	}
}

func TestIntegrationKeepSource(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "/", AutoSpecial: true},
		dst: testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true}, users: []string{"dave"}})
	e.seed(t, e.src, "dave", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "dave")
	job := e.createJob(t, model.Job{KeepSource: true}, "dave")
	m := e.runJob(t, job.ID)["dave"]
	if m.State != model.MoveDone {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, model.MoveDone)
	}
	if !m.SourceRemoved.IsZero() {
		t.Errorf("SourceRemoved = %v, want zero with KeepSource", m.SourceRemoved)
	}
	e.checkDone(t, m, before)
	after := itSnap(t, e.src, "dave")
	if got, want := after.names(), before.names(); !slices.Equal(got, want) {
		t.Errorf("source folders = %v, want %v", got, want)
	}
	for _, name := range before.names() {
		testenv.EqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
	e.checkTarget(t, "dave", before, true)
	e.checkDirectory(t, "dave", itDstHome, 1)
}

func TestIntegrationAlreadyThere(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "."}, dst: testserver.DovecotOptions{Sep: "/"},
		users: []string{"erin"}, homes: map[string]string{"erin": itDstHome}})
	e.seed(t, e.src, "erin", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "erin")
	job := e.createJob(t, model.Job{}, "erin")
	m := e.runJob(t, job.ID)["erin"]
	if m.State != model.MoveAlreadyThere {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, model.MoveAlreadyThere)
	}
	e.checkDirectory(t, "erin", itDstHome, 0)
	dst := itSnap(t, e.dst, "erin")
	if got := dst.names(); !slices.Equal(got, []string{"INBOX"}) || dst.total() != 0 || len(dst.subscribed) != 0 {
		t.Errorf("target folders = %v with %d messages, subscriptions %v; want only an empty INBOX", got, dst.total(), dst.subscribed)
	}
	after := itSnap(t, e.src, "erin")
	for _, name := range before.names() {
		testenv.EqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
}

func TestIntegrationQuota(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true},
		dst:   testserver.DovecotOptions{Sep: "/", AutoSpecial: true, QuotaBytes: 64 << 10},
		users: []string{"frank"}})
	e.seed(t, e.src, "frank", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "frank")
	dstBefore := itSnap(t, e.dst, "frank")
	job := e.createJob(t, model.Job{}, "frank")
	m := e.runJob(t, job.ID)["frank"]
	if m.State != model.MoveAbandoned {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, model.MoveAbandoned)
	}
	if !strings.Contains(strings.ToLower(m.Error), "quota") {
		t.Errorf("move error = %q, want it to mention the quota", m.Error)
	}
	dstAfter := itSnap(t, e.dst, "frank")
	if n := dstAfter.total(); n != 0 {
		t.Errorf("target holds %d messages after the abandoned move, want 0", n)
	}
	if got, want := dstAfter.names(), dstBefore.names(); !slices.Equal(got, want) {
		t.Errorf("target folders = %v, want %v as before the move", got, want)
	}
	// Dovecot keeps a subscription when its folder is deleted (RFC 3501
	// §6.3.4 lets DELETE leave it), and LSUB-driven clients show such a
	// subscription as a folder: the cleanup must unsubscribe what it made.
	for _, name := range itKeys(dstAfter.subscribed) {
		if _, ok := dstAfter.manifest[name]; !ok {
			t.Errorf("target still subscribes to %q, a folder the abandoned move created and deleted (subscriptions before the move: %v)",
				name, itKeys(dstBefore.subscribed))
		} else if !dstBefore.subscribed[name] {
			t.Logf("target folder %q, which existed before, stays subscribed by the abandoned move", name)
		}
	}
	after := itSnap(t, e.src, "frank")
	if got, want := after.names(), before.names(); !slices.Equal(got, want) {
		t.Errorf("source folders = %v, want %v", got, want)
	}
	for _, name := range before.names() {
		testenv.EqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
	e.checkDirectory(t, "frank", itSrcHome, 0)
}

func itKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// itCheckCoverage makes sure Dovecot kept what the corpus is for: every
// flag and keyword, and exact duplicates, are on the source before a move.
func itCheckCoverage(t *testing.T, s itSnapshot) {
	t.Helper()
	seen := map[string]bool{}
	dups := 0
	for _, entries := range s.manifest {
		for i, e := range entries {
			for _, f := range strings.Fields(strings.Split(e, "|")[1]) {
				seen[f] = true
			}
			if i > 0 && entries[i-1] == e {
				dups++
			}
		}
	}
	for _, f := range []string{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`, "$Forwarded", "$Label1", "Custom_kw"} {
		if !seen[f] {
			t.Errorf("source corpus has no message flagged %s; flags seen: %v", f, itKeys(seen))
		}
	}
	if dups < 2 {
		t.Errorf("source corpus has %d exact duplicates in a folder, want 2", dups)
	}
}

// itHang bounds how long a cancelled RunJobs may take to return. It is a
// liveness check, not a speed one: a cancelled move stops within
// milliseconds, and only a deadlock takes this long.
const itHang = 30 * time.Second

// itInterrupt decides, from the published progress, when to cancel.
type itInterrupt struct {
	mu         sync.Mutex
	folder     string // CurrentFolder of the last publish
	inboxStart int64  // MsgsDone when INBOX's copy started; -1 before
	fired      string // what the cancel interrupted
}

func TestIntegrationResumeAfterInterrupt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// cancelNow is called under it.mu for every publish in the copy
		// phase and says whether to cancel now.
		cancelNow func(it *itInterrupt, m model.Move) bool
		// inFlight: the cancel lands while APPENDs await their answers; the
		// stop must wait for them, so that every message on the target is
		// a recorded copy (Dovecot executes what was sent either way).
		inFlight bool
	}{
		{
			// At the start of a folder's copy (the first publish naming it)
			// no message body is streaming.
			name: "between folders",
			cancelNow: func(it *itInterrupt, m model.Move) bool {
				if m.CurrentFolder == it.folder || m.MsgsDone == 0 {
					return false
				}
				it.fired = fmt.Sprintf("start of %q after %d copies", m.CurrentFolder, m.MsgsDone)
				return true
			},
		},
		{
			// At the first commit inside INBOX's chunk: its 120 copies were
			// all marked 'sending' before the FETCH, and the commit of the
			// first 64 (or what 500 ms brought) comes with more in flight.
			name:     "appends in flight",
			inFlight: true,
			cancelNow: func(it *itInterrupt, m model.Move) bool {
				if m.CurrentFolder != "INBOX" {
					return false
				}
				if it.inboxStart < 0 {
					it.inboxStart = m.MsgsDone
					return false
				}
				if m.MsgsDone == it.inboxStart {
					return false
				}
				it.fired = fmt.Sprintf("INBOX after %d of its copies confirmed", m.MsgsDone-it.inboxStart)
				return true
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "."}, dst: testserver.DovecotOptions{Sep: "/", AutoSpecial: true},
				users: []string{"grace"}})
			e.seed(t, e.src, "grace", itCorpusOptions{sep: e.src.Sep, inbox: 120})
			before := itSnap(t, e.src, "grace")
			job := e.createJob(t, model.Job{Parallel: 1}, "grace")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			it := &itInterrupt{inboxStart: -1}
			rn := &migrate.Runner{DB: e.db, Mover: e.mover(func(m model.Move) {
				it.mu.Lock()
				defer it.mu.Unlock()
				if it.fired == "" && m.State == model.MoveRunning && m.Phase == model.PhaseCopy && tc.cancelNow(it, m) {
					cancel()
				}
				it.folder = m.CurrentFolder
			})}
			done := make(chan error, 1)
			go func() {
				_, err := rn.RunJobs(ctx, job.ID)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("RunJobs() with a cancelled context = %v, want %v", err, context.Canceled)
				}
			case <-time.After(itHang):
				if ctx.Err() == nil {
					t.Fatalf("RunJobs() ran %v without reaching the cancel point", itHang)
				}
				t.Fatalf("RunJobs() has not returned %v after the cancel at %s: the move hangs. Stuck mover goroutines:\n%s",
					itHang, it.fired, itStacks("movewizard/migrate.", "imapclient.(*Client).handleFetch"))
			}
			moves, err := e.db.Moves(context.Background(), job.ID)
			if err != nil {
				t.Fatalf("Moves() = %v", err)
			}
			m := moves[0]
			if m.State != model.MoveRunning || !m.DirectoryUpdated.IsZero() {
				t.Fatalf("interrupted move: state %s, phase %s, directory updated %v; want running before the cut-over",
					m.State, m.Phase, m.DirectoryUpdated)
			}
			sending := itCountSending(t, e.db, m.ID)
			mid := itSnap(t, e.dst, "grace")
			t.Logf("cancelled at %s; the target holds %d messages, %d confirmed, %d copies left 'sending'",
				it.fired, mid.total(), m.MsgsDone, sending)
			if mid.total() == 0 || mid.total() >= before.total() {
				t.Fatalf("the cancel did not land in the middle of the copy: target %d of %d, %d 'sending'",
					mid.total(), before.total(), sending)
			}
			if tc.inFlight && int64(mid.total()) != m.MsgsDone {
				t.Errorf("after the stop the target holds %d messages but %d copies are recorded: answers to APPENDs in flight were not waited for",
					mid.total(), m.MsgsDone)
			}
			e.checkDirectory(t, "grace", itSrcHome, 0)

			m = e.runJob(t, job.ID)["grace"]
			if m.State != model.MoveDone {
				t.Fatalf("resumed move state = %s (%s), want %s", m.State, m.Error, model.MoveDone)
			}
			e.checkDone(t, m, before)
			e.checkTarget(t, "grace", before, true)
			e.checkSourceEmptied(t, "grace", false)
			e.checkDirectory(t, "grace", itDstHome, 1)
		})
	}
}

// itStacks returns the stacks of the goroutines whose trace contains one
// of subs: the mover's and go-imap's FETCH readers.
func itStacks(subs ...string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(g, s) }) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// itCountSending counts copies recorded as in flight: what reconciliation
// has to settle on resume.
func itCountSending(t *testing.T, d *db.DB, moveID int64) int {
	t.Helper()
	folders, err := d.Folders(context.Background(), moveID)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	n := 0
	for _, f := range folders {
		copies, err := d.Copies(context.Background(), f.ID)
		if err != nil {
			t.Fatalf("Copies() = %v", err)
		}
		for _, c := range copies {
			if c.State == db.CopySending {
				n++
			}
		}
	}
	return n
}
