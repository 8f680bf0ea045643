package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// corpusTotal is how many messages corpus seeds per user.
func corpusTotal() int {
	n := 0
	for _, f := range corpusFolders() {
		n += f.n
	}
	return n
}

// checkSeeded guards against a vacuous comparison: the source manifest
// must hold the whole corpus, nested and non-ASCII folders included.
func checkSeeded(t *testing.T, uid string, m map[string][]string) {
	t.Helper()
	n := 0
	for _, msgs := range m {
		n += len(msgs)
	}
	if n != corpusTotal() {
		t.Fatalf("source manifest of %s has %d messages, want %d", uid, n, corpusTotal())
	}
	for _, f := range corpusFolders() {
		if got, want := len(m[strings.Join(f.levels, "/")]), f.n; got != want {
			t.Fatalf("source manifest of %s: folder %q has %d messages, want %d", uid, strings.Join(f.levels, "/"), got, want)
		}
	}
}

// assertMoved checks the end state of a completed move of uid: the target
// holds exactly the source's former content, the source holds no message,
// the directory was modified once and names the target.
func assertMoved(t *testing.T, s *servers, uid string, want map[string][]string) {
	t.Helper()
	if d := diffManifests(manifest(t, s.dst, uid), want); d != "" {
		t.Errorf("target content of %s differs from the source before the move:\n%s", uid, d)
	}
	if left := messageCounts(t, s.src, uid); len(left) > 0 {
		t.Errorf("source of %s still holds messages: %v", uid, left)
	}
	subscribed := subscriptions(t, s.dst, uid)
	for _, f := range corpusFolders() {
		if name := strings.Join(f.levels, "/"); !subscribed[name] {
			t.Errorf("target folder %q of %s is not subscribed (subscribed: %v)", name, uid, subscribed)
		}
	}
	if got := s.ldap.ModifyCount(t, s.ldap.UserDN(uid)); got != 1 {
		t.Errorf("ModifyCount(%s) = %d, want 1", uid, got)
	}
	if got := s.home(t, uid); !slices.Equal(got, []string{dstHome}) {
		t.Errorf("mailHost of %s = %q, want [%s]", uid, got, dstHome)
	}
}

// summaryDone matches the summary line of a move that ended done
// ("user001  done  302 msgs ..."); progress lines read "done  done".
func summaryDone(uid string) *regexp.Regexp {
	return summaryLine(uid, "done")
}

func summaryLine(uid string, state model.MoveState) *regexp.Regexp {
	return regexp.MustCompile(`(?m)\b` + regexp.QuoteMeta(uid) + `\s+` + regexp.QuoteMeta(string(state)) + `\s+\d+ msgs`)
}

// moveOf reads uid's latest move from the database (no process may hold it
// open for writing: it is only called between runs).
func moveOf(t *testing.T, path, uid string) model.Move {
	t.Helper()
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("db.Open(%s) = %v", path, err)
	}
	defer d.Close()
	moves, err := d.UserMoves(context.Background(), uid)
	if err != nil {
		t.Fatalf("UserMoves(%s) = %v", uid, err)
	}
	if len(moves) == 0 {
		t.Fatalf("UserMoves(%s) = none, want a move", uid)
	}
	return moves[0]
}

func TestCrashAtEveryPoint(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t) // busy machines are the normal case
	points := []struct {
		spec    string
		resumer string // "move" runs the same command again, "resume" runs movewizard resume
		// phase and directoryUpdated say where the crashed move must stand.
		phase            model.Phase
		directoryUpdated bool
		ldapChanged      bool
	}{
		{spec: "hierarchy-create:2", resumer: "move", phase: model.PhaseHierarchy},
		{spec: "hierarchy-done", resumer: "resume", phase: model.PhaseHierarchy},
		{spec: "copy:1", resumer: "move", phase: model.PhaseCopy},
		{spec: "copy:4", resumer: "resume", phase: model.PhaseCopy},
		{spec: "verified", resumer: "move", phase: model.PhaseVerify},
		{spec: "cutover-ldap", resumer: "resume", phase: model.PhaseCutover, ldapChanged: true},
		{spec: "cutover", resumer: "move", phase: model.PhaseCutover, directoryUpdated: true, ldapChanged: true},
		{spec: "remove:1", resumer: "move", phase: model.PhaseRemove, directoryUpdated: true, ldapChanged: true},
	}
	s := startServers(t, len(points))
	seed(t, s.src, s.users...)
	for i, p := range points {
		uid := s.users[i]
		t.Run(p.spec, func(t *testing.T) {
			t.Parallel()
			want := manifest(t, s.src, uid)
			checkSeeded(t, uid, want)
			dbName := "crash-" + uid + ".db"
			cfg := s.config(t, dbName)
			move := []string{"move", "-config", cfg, "-target", "dst", "-users", uid, "-policy", "skip", "-max-bad", "5"}

			r := runBinary(t, s.childEnv("MOVEWIZARD_CRASH="+p.spec), move...)
			if !killedBySIGKILL(r.err) {
				t.Fatalf("movewizard move with MOVEWIZARD_CRASH=%s: want death by SIGKILL, got %s", p.spec, r)
			}
			m := moveOf(t, filepath.Join(s.dir, dbName), uid)
			t.Logf("after the crash: state %s, phase %s, %d/%d msgs, directory updated %v", m.State, m.Phase, m.MsgsDone, m.MsgsTotal, !m.DirectoryUpdated.IsZero())
			if m.State != model.MoveRunning || m.Phase != p.phase || m.DirectoryUpdated.IsZero() == p.directoryUpdated {
				t.Errorf("move after the crash = state %s, phase %s, directory updated %v; want running, %s, %v",
					m.State, m.Phase, !m.DirectoryUpdated.IsZero(), p.phase, p.directoryUpdated)
			}
			wantHome := srcHome
			if p.ldapChanged {
				wantHome = dstHome
			}
			if got := s.home(t, uid); !slices.Equal(got, []string{wantHome}) {
				t.Errorf("mailHost of %s after the crash = %q, want [%s]", uid, got, wantHome)
			}

			args := move
			if p.resumer == "resume" {
				args = []string{"resume", "-config", cfg}
			}
			r = runBinary(t, s.childEnv(), args...)
			if r.err != nil {
				t.Fatalf("movewizard %s after the crash: want exit 0, got %s", p.resumer, r)
			}
			if p.resumer == "move" && !strings.Contains(r.stdout, uid+": resuming unfinished move") {
				t.Errorf("movewizard move after the crash: stdout = %q, want %q", r.stdout, uid+": resuming unfinished move")
			}
			if strings.Contains(r.stdout, "nothing to resume") || !summaryDone(uid).MatchString(r.stdout) {
				t.Errorf("movewizard %s after the crash: stdout = %q, want %s done in the summary", p.resumer, r.stdout, uid)
			}
			if m := moveOf(t, filepath.Join(s.dir, dbName), uid); m.State != model.MoveDone || m.Skipped != 0 {
				t.Errorf("move after the resume = state %s, %d skipped (%s); want done, 0 skipped", m.State, m.Skipped, m.Error)
			}
			assertMoved(t, s, uid, want)
		})
	}
}

// watchWriter collects a child's output and closes seen once it contains
// marker.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	closed bool
}

func newWatchWriter(marker string) *watchWriter {
	return &watchWriter{marker: marker, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if !w.closed && strings.Contains(w.buf.String(), w.marker) {
		w.closed = true
		close(w.seen)
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// killAfter starts movewizard, waits until its stdout shows marker (or it
// exits), then kills it with SIGKILL after delay. It returns whether the
// kill hit a running process; a process that ended on its own must have
// exited 0.
func killAfter(t *testing.T, env []string, marker string, delay time.Duration, args ...string) bool {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = env
	out := newWatchWriter(marker)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("start movewizard: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	if marker != "" {
		select {
		case <-out.seen:
		case err = <-exited:
			if err != nil {
				t.Fatalf("movewizard %q ended before %q: %v\nstdout:\n%s\nstderr:\n%s", args, marker, err, out.String(), errOut.String())
			}
			return false
		case <-time.After(binTimeout):
			// Only a guard against a hung child, not a speed assertion.
			cmd.Process.Kill()
			<-exited
			t.Fatalf("movewizard %q did not print %q within %v\nstdout:\n%s", args, marker, binTimeout, out.String())
		}
	}
	select {
	case err = <-exited:
	case <-time.After(delay):
		if kerr := cmd.Process.Signal(syscall.SIGKILL); kerr != nil {
			t.Logf("kill: %v", kerr) // it may have exited just now
		}
		err = <-exited
	}
	if killedBySIGKILL(err) {
		return true
	}
	if err != nil {
		t.Fatalf("movewizard %q: want exit 0 or death by SIGKILL, got %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return false
}

// TestKillAtRandomMoments kills 26 times; with the 8 crash points and the
// 6 kills of TestServeKilledAndResumes a CI run kills movewizard 40 times,
// every time with the CPUs saturated.
func TestKillAtRandomMoments(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t) // busy machines are the normal case
	killAtRandomMoments(t, 26, 50*time.Millisecond, 900*time.Millisecond)
}

// killAtRandomMoments moves three users in one job, killing the process
// with SIGKILL kills times, each after a random delay in [minDelay,
// maxDelay), resuming after each, then runs the job to its end.
func killAtRandomMoments(t *testing.T, kills int, minDelay, maxDelay time.Duration) {
	seedValue := uint64(time.Now().UnixNano())
	if v := os.Getenv("MOVEWIZARD_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MOVEWIZARD_TEST_SEED=%q: %v", v, err)
		}
		seedValue = n
	}
	t.Logf("random seed %d (MOVEWIZARD_TEST_SEED=%d repeats the kill delays)", seedValue, seedValue)
	rnd := rand.New(rand.NewPCG(seedValue, 0))

	s := startServers(t, 3)
	seed(t, s.src, s.users...)
	want := map[string]map[string][]string{}
	for _, uid := range s.users {
		want[uid] = manifest(t, s.src, uid)
		checkSeeded(t, uid, want[uid])
	}
	const dbName = "kills.db"
	cfg := s.config(t, dbName)
	dbPath := filepath.Join(s.dir, dbName)
	move := []string{"move", "-config", cfg, "-target", "dst", "-users", strings.Join(s.users, ","),
		"-policy", "skip", "-max-bad", "5", "-parallel", "3"}
	resume := []string{"resume", "-config", cfg}

	for i := 0; i < kills; i++ {
		delay := minDelay + time.Duration(rnd.Int64N(int64(maxDelay-minDelay)))
		args := resume
		if i == 0 {
			args = move
		}
		// The delay runs from the first progress line, printed after a
		// move's state was committed: the job exists (so there is
		// something to resume) and each run gets past its start-up (LDAP
		// look-ups, logins), so the kills spread over all phases.
		killed := killAfter(t, s.childEnv(), " running ", delay, args...)
		var states []string
		for _, uid := range s.users {
			m := moveOf(t, dbPath, uid)
			states = append(states, fmt.Sprintf("%s %s/%s %d/%d msgs dir=%v", uid, m.State, orDash(m.Phase),
				m.MsgsDone, m.MsgsTotal, !m.DirectoryUpdated.IsZero()))
		}
		t.Logf("run %d (%s) killed=%v after %v: %s", i+1, args[0], killed, delay, strings.Join(states, "; "))
	}

	r := runBinary(t, s.childEnv(), resume...)
	if r.err != nil {
		t.Fatalf("final movewizard resume: want exit 0, got %s", r)
	}
	for _, uid := range s.users {
		if m := moveOf(t, dbPath, uid); m.State != model.MoveDone || m.Skipped != 0 {
			t.Errorf("move of %s = state %s, %d skipped (%s); want done, 0 skipped", uid, m.State, m.Skipped, m.Error)
		}
		assertMoved(t, s, uid, want[uid])
		logRepairs(t, dbPath, uid)
	}
}

// logRepairs logs what verification repaired after the kills (duplicates an
// interrupted run had sent and that landed late), so that a run shows
// whether the kills hit APPENDs in flight.
func logRepairs(t *testing.T, dbPath, uid string) {
	t.Helper()
	m := moveOf(t, dbPath, uid)
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatalf("db.Open(%s) = %v", dbPath, err)
	}
	defer d.Close()
	events, err := d.Events(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Events(%d) = %v", m.ID, err)
	}
	for _, ev := range events {
		if ev.Kind == "duplicates-removed" || ev.Kind == "foreign-on-target" {
			t.Logf("%s: %s: %s", uid, ev.Kind, ev.Message)
		}
	}
}

// TestKillAfterSourceDelete kills the removal at the one instant no crash
// point reaches: after the source folder's DELETE, before the database
// records it. The folder is a special-use one, which Dovecot (auto =
// subscribe, a usual setup) creates again, empty and with a new
// UIDVALIDITY, as soon as it is opened. The kill is emulated: the move is
// crashed after each committed folder until the next one to remove is
// special-use, then that folder is emptied and deleted as the mover would.
func TestKillAfterSourceDelete(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t) // busy machines are the normal case
	s := startServers(t, 1)
	uid := s.users[0]
	seed(t, s.src, uid)
	want := manifest(t, s.src, uid)
	checkSeeded(t, uid, want)
	cfg := s.config(t, "delete.db")
	dbPath := filepath.Join(s.dir, "delete.db")
	move := []string{"move", "-config", cfg, "-target", "dst", "-users", uid}

	var next db.Folder
	for tries := 0; next.SpecialUse == ""; tries++ {
		if tries == len(corpusFolders())+4 {
			t.Fatalf("no special-use folder left to remove after %d crashes", tries)
		}
		r := runBinary(t, s.childEnv("MOVEWIZARD_CRASH=remove:1"), move...)
		if !killedBySIGKILL(r.err) {
			t.Fatalf("movewizard move with MOVEWIZARD_CRASH=remove:1: want death by SIGKILL, got %s", r)
		}
		next = nextToRemove(t, dbPath, uid)
	}
	t.Logf("emulating a kill right after DELETE %q (%s)", next.Source, next.SpecialUse)
	deleteSourceFolder(t, s, uid, next.Source)

	r := runBinary(t, s.childEnv(), move...)
	if r.err != nil {
		t.Fatalf("movewizard move after a kill between DELETE %q and its commit: want exit 0, got %s", next.Source, r)
	}
	assertMoved(t, s, uid, want)
}

// nextToRemove returns the folder the remove phase handles next: it goes
// through the folders last to first.
func nextToRemove(t *testing.T, dbPath, uid string) db.Folder {
	t.Helper()
	m := moveOf(t, dbPath, uid)
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatalf("db.Open(%s) = %v", dbPath, err)
	}
	defer d.Close()
	folders, err := d.Folders(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Folders(%d) = %v", m.ID, err)
	}
	for i := len(folders) - 1; i >= 0; i-- {
		if folders[i].State != db.FolderRemoved {
			return folders[i]
		}
	}
	t.Fatalf("no folder of %s left to remove", uid)
	return db.Folder{}
}

// deleteSourceFolder does what removeFolder does to a verified folder:
// expunge its messages, delete and unsubscribe it.
func deleteSourceFolder(t *testing.T, s *servers, uid, name string) {
	t.Helper()
	c, err := login(s.src, uid)
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	sel, err := c.Select(name, nil).Wait()
	if err != nil {
		t.Fatalf("Select(%q) = %v", name, err)
	}
	if sel.NumMessages > 0 {
		all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatalf("Store(%q) = %v", name, err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatalf("Expunge(%q) = %v", name, err)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("Unselect() = %v", err)
	}
	if err := c.Delete(name).Wait(); err != nil {
		t.Fatalf("Delete(%q) = %v", name, err)
	}
	if err := c.Unsubscribe(name).Wait(); err != nil {
		t.Fatalf("Unsubscribe(%q) = %v", name, err)
	}
}
