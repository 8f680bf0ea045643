package migrate_test

import (
	"context"
	"fmt"
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
	"github.com/movewizard/movewizard/migrate/testserver"
)

// stageActor is a user who keeps working through a staged move and its
// completion, the way mail reaches a mailbox behind a proxy and an MTA:
// each action looks the user's home up in the directory (through a cache
// that keeps an answer for ttl, as proxies and MTAs do), connects to the
// server it names and appends a message, flags one, or expunges one it
// appended earlier. It records what each action did where.
type stageActor struct {
	t        *testing.T
	uid      string
	dir      directory.Directory
	servers  map[string]*testserver.Dovecot // home -> server
	ttl      time.Duration
	cached   string
	cachedAt time.Time

	mu       sync.Mutex
	appended []string             // subjects, in order
	expunged map[string]bool      // subjects expunged (found and removed)
	flagged  map[string]string    // subject -> the server's home where it was flagged
	lastSrc  time.Time            // when the last action on the source ended
	srcEnds  map[string]time.Time // subject -> when the last action on the source touching it ended
	actions  int
}

func (a *stageActor) home(ctx context.Context) string {
	if a.cached != "" && time.Since(a.cachedAt) < a.ttl {
		return a.cached
	}
	u, err := a.dir.Lookup(ctx, a.uid)
	if err != nil {
		a.t.Errorf("look up %s: %v", a.uid, err)
		return a.cached
	}
	a.cached, a.cachedAt = u.Home, time.Now()
	return a.cached
}

// act does action i on the server the (cached) directory names.
func (a *stageActor) act(ctx context.Context, i int) {
	home := a.home(ctx)
	d := a.servers[home]
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		a.t.Errorf("dial %s: %v", home, err)
		return
	}
	defer c.Close()
	if err := c.Login(d.MasterLogin(a.uid), d.MasterPassword).Wait(); err != nil {
		a.t.Errorf("login %s on %s: %v", a.uid, home, err)
		return
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		a.t.Errorf("select on %s: %v", home, err)
		return
	}
	a.mu.Lock()
	appended := slices.Clone(a.appended)
	a.mu.Unlock()
	find := func(subject string) (imap.UID, bool) {
		res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
		if err != nil {
			a.t.Errorf("search on %s: %v", home, err)
			return 0, false
		}
		for _, u := range res.AllUIDs() {
			return u, true
		}
		return 0, false
	}
	var did func()
	touched := "" // the subject of the message the action changed
	switch {
	case i%3 != 1 && i%6 != 2 || len(appended) < 2:
		subject := fmt.Sprintf("live %d", i)
		testenv.Append(a.t, c, msg("INBOX", subject, i).msg())
		touched = subject + " " + fmt.Sprint(i)
		did = func() { a.appended = append(a.appended, touched) }
	case i%3 == 1:
		subject := appended[i%len(appended)]
		if u, ok := find(subject); ok {
			if err := c.Store(imap.UIDSetNum(u), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
				a.t.Errorf("flag on %s: %v", home, err)
			}
			touched = subject
			did = func() { a.flagged[subject] = home }
		}
	case i%6 == 2:
		subject := appended[(i/3)%len(appended)]
		if u, ok := find(subject); ok && !a.expunged[subject] {
			if err := c.Store(imap.UIDSetNum(u), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				a.t.Errorf("delete on %s: %v", home, err)
			}
			if err := c.UIDExpunge(imap.UIDSetNum(u)).Close(); err != nil {
				a.t.Errorf("expunge on %s: %v", home, err)
			}
			touched = subject
			did = func() { a.expunged[subject] = true }
		}
	}
	if err := c.Logout().Wait(); err != nil {
		a.t.Errorf("logout on %s: %v", home, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if did != nil {
		did()
	}
	a.actions++
	if home == itSrcHome {
		a.lastSrc = time.Now()
		if touched != "" {
			a.srcEnds[touched] = a.lastSrc
		}
	}
}

// TestIntegrationStagedMoveBusyUser: between two real Dovecots and a real
// OpenLDAP, a user keeps appending, flagging and expunging through a staged
// move, its resync and its completion. The target ends with exactly what
// the user left: every message they appended and did not expunge, each
// once, flagged where they flagged it; nothing is left on the source.
func TestIntegrationStagedMoveBusyUser(t *testing.T) {
	ctx := context.Background()
	e := itNewEnv(t, itSetup{users: []string{"alice"}})
	c := itDial(t, e.src, "alice")
	for i := 0; i < 30; i++ {
		testenv.Append(t, c, msg("INBOX", "seed", i, imap.FlagSeen).msg())
	}
	c.Close()
	// The actor's cache keeps an answer for 1s; the move waits 3s after the
	// directory update, so actions on the source end before the final
	// delta pass reads it (an action that still ends later is checked
	// below as such).
	const ttl, propagation = time.Second, 3 * time.Second
	e.cfg.Directory.PropagationDelay = propagation
	e.cfg.ResyncInterval = time.Minute
	dir := directory.NewLDAP(e.cfg.Directory)
	a := &stageActor{t: t, uid: "alice", dir: dir, ttl: ttl, expunged: map[string]bool{}, flagged: map[string]string{}, srcEnds: map[string]time.Time{},
		servers: map[string]*testserver.Dovecot{itSrcHome: e.src, itDstHome: e.dst}}

	job := e.createJob(t, model.Job{Stage: true, Parallel: 1}, "alice")
	runner := &migrate.Runner{Mover: e.mover(nil), DB: e.db, Poll: 50 * time.Millisecond}
	stop := make(chan struct{})
	actorDone := make(chan struct{})
	go func() {
		defer close(actorDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a.act(ctx, i)
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-actorDone
	}()

	moves, err := runner.RunJobs(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := moves[0]; m.State != model.MoveSynced {
		t.Fatalf("staged move = %s (%s), want synced", m.State, m.Error)
	}
	if u, err := dir.Lookup(ctx, "alice"); err != nil || u.Home != itSrcHome {
		t.Fatalf("home while synced = %q, %v; want the source", u.Home, err)
	}
	if _, err := e.db.CompleteJob(ctx, job.ID, "test"); err != nil {
		t.Fatal(err)
	}
	moves, err = runner.RunJobs(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := moves[0]
	// The user goes on a little on the target, then stops.
	time.Sleep(2 * ttl)
	close(stop)
	<-actorDone
	if m.State != model.MoveDone {
		t.Fatalf("completed move = %s (%s), want done", m.State, m.Error)
	}
	// An action on the source that ended after the final delta pass began
	// (it took longer than the propagation delay leaves: the machine is
	// busy) raced that pass: its message may show it or not, but is never
	// duplicated, and if left on the source it is reported.
	deltaFrom := m.DirectoryUpdated.Add(propagation)
	late := map[string]bool{}
	for s, end := range a.srcEnds {
		if end.After(deltaFrom) {
			late[s] = true
		}
	}
	if len(late) > 0 {
		t.Logf("%d messages touched on the source after the final delta began (not checked exactly): %v", len(late), late)
	}
	t.Logf("actor: %d actions, %d appended, %d flagged, %d expunged; cut-over window %v; last action on the source %v after the directory update",
		a.actions, len(a.appended), len(a.flagged), len(a.expunged), m.CutoverWindow(), a.lastSrc.Sub(m.DirectoryUpdated).Round(time.Millisecond))

	want := map[string]string{}
	for i := 0; i < 30; i++ {
		want[fmt.Sprintf("seed %d", i)] = `\Seen`
	}
	for _, s := range a.appended {
		if !a.expunged[s] {
			want[s] = ""
			if _, ok := a.flagged[s]; ok {
				want[s] = `\Flagged`
			}
		}
	}
	got := map[string]string{}
	dc := itDial(t, e.dst, "alice")
	if _, err := dc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetch := dc.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, Envelope: true})
	dupes := 0
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		buf, err := msg.Collect()
		if err != nil {
			t.Fatal(err)
		}
		var fs []string
		for _, f := range buf.Flags {
			if f != `\Recent` {
				fs = append(fs, string(f))
			}
		}
		slices.Sort(fs)
		if _, seen := got[buf.Envelope.Subject]; seen {
			dupes++
		}
		got[buf.Envelope.Subject] = strings.Join(fs, " ")
	}
	if err := fetch.Close(); err != nil {
		t.Fatal(err)
	}
	if dupes > 0 {
		t.Errorf("%d duplicates on the target", dupes)
	}
	for s, w := range want {
		if late[s] {
			continue
		}
		if g, ok := got[s]; !ok {
			t.Errorf("%q is missing on the target", s)
		} else if g != w {
			t.Errorf("%q has flags %q on the target, want %q", s, g, w)
		}
	}
	for s := range got {
		if _, ok := want[s]; !ok && !late[s] {
			t.Errorf("%q is on the target but the user expunged it (or never appended it)", s)
		}
	}
	// What stays on the source: mail the user deleted on the target before
	// the move had read its copy back (kept, as it was never verified), or
	// what a source action that ended after the final delta began left.
	left := itSnap(t, e.src, "alice").total()
	sc := itDial(t, e.src, "alice")
	sel, err := sc.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	var leftMsgs []*imapclient.FetchMessageBuffer
	if sel.NumMessages > 0 {
		if leftMsgs, err = sc.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect(); err != nil {
			t.Fatal(err)
		}
	}
	for _, lm := range leftMsgs {
		if s := lm.Envelope.Subject; !late[s] && !a.expunged[s] {
			t.Errorf("%q was left on the source although every action there ended before the final delta and the user did not delete it", s)
		}
	}
	if left > 0 {
		events, err := e.db.Events(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(events, func(ev model.Event) bool { return ev.Kind == "source-kept" }) {
			t.Errorf("%d messages left on the source without a source-kept event", left)
		}
	}
}
