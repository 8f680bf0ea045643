package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// stagedSummary matches a summary line of a mailbox synced and waiting.
func stagedSummary(uid string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^  job \d+\s+` + regexp.QuoteMeta(uid) + `\s+` +
		regexp.QuoteMeta(model.MoveSynced.Label()) + `\s+\d+ msgs`)
}

// movewizard move -stage copies the mailboxes and returns with them synced
// and waiting, the directory and the source untouched; movewizard complete
// then moves them: the source's sessions are ended with its kick_command
// (a client of the test logged in on the source is disconnected), the
// directory names the target, the source is emptied.
func TestStageThenComplete(t *testing.T) {
	t.Parallel()
	s := startServers(t, 2)
	users := s.users
	seed(t, s.src, users...)
	want := map[string]map[string][]string{}
	for _, uid := range users {
		want[uid] = manifest(t, s.src, uid)
		checkSeeded(t, uid, want[uid])
	}
	doveadm := testserver.RequireBinary(t, "doveadm")
	cfg := s.config(t, "stage.db")
	withKick(t, cfg, fmt.Sprintf("kick_command = [%q, \"-c\", %q, \"kick\", \"{user}\"]", doveadm, s.src.ConfigPath))
	dbPath := filepath.Join(s.dir, "stage.db")

	r := runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", strings.Join(users, ","), "-stage")
	if r.err != nil {
		t.Fatalf("movewizard move -stage: want exit 0, got %s", r)
	}
	if !strings.Contains(r.stdout, "staged: sync, then wait for movewizard complete") {
		t.Errorf("movewizard move -stage stdout = %q, want the job line to say it is staged", r.stdout)
	}
	var jobID int64
	for _, uid := range users {
		if !stagedSummary(uid).MatchString(r.stdout) {
			t.Errorf("movewizard move -stage stdout = %q, want %s %q in the summary", r.stdout, uid, model.MoveSynced.Label())
		}
		m := moveOf(t, dbPath, uid)
		if m.State != model.MoveSynced || m.Syncs < 1 || m.LastSyncAt.IsZero() {
			t.Errorf("move of %s after move -stage: state %s, %d syncs, last sync %v; want synced at least once", uid, m.State, m.Syncs, m.LastSyncAt)
		}
		jobID = m.JobID
		if got := s.ldap.ModifyCount(t, s.ldap.UserDN(uid)); got != 0 {
			t.Errorf("ModifyCount(%s) after move -stage = %d, want 0", uid, got)
		}
		if got := s.home(t, uid); !slices.Equal(got, []string{srcHome}) {
			t.Errorf("mailHost of %s after move -stage = %q, want [%s]", uid, got, srcHome)
		}
		if d := diffManifests(manifest(t, s.src, uid), want[uid]); d != "" {
			t.Errorf("source of %s changed by move -stage:\n%s", uid, d)
		}
		if d := diffManifests(manifest(t, s.dst, uid), want[uid]); d != "" {
			t.Errorf("target of %s after move -stage differs from the source:\n%s", uid, d)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Run again, the moves are there already and stay synced: exit 0 at once.
	r = runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", users[0], "-stage")
	if r.err != nil || !strings.Contains(r.stdout, users[0]+": resuming unfinished move") || !stagedSummary(users[0]).MatchString(r.stdout) {
		t.Errorf("movewizard move -stage of a synced mailbox: want exit 0, resuming and synced, got %s", r)
	}
	// Without -stage, a staged mailbox is not silently taken over.
	r = runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", users[0])
	if code := exitStatus(r.err); code != 1 || !strings.Contains(r.stderr, "has a staged move in job") || !strings.Contains(r.stderr, "movewizard complete -move") {
		t.Errorf("movewizard move without -stage of a staged mailbox: want exit 1 naming movewizard complete, got %s", r)
	}

	// A session of the user on the source, as a mail client keeps it.
	client, err := login(s.src, users[0])
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX on the source = %v", err)
	}

	r = runBinary(t, s.childEnv(), "complete", "-config", cfg, "-job", fmt.Sprint(jobID))
	if r.err != nil {
		t.Fatalf("movewizard complete -job %d: want exit 0, got %s", jobID, r)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("job %d: completion requested for %d mailboxes", jobID, len(users))) {
		t.Errorf("movewizard complete stdout = %q, want the request counted", r.stdout)
	}
	for _, uid := range users {
		if !summaryDone(uid).MatchString(r.stdout) {
			t.Errorf("movewizard complete stdout = %q, want %s done in the summary", r.stdout, uid)
		}
		assertMoved(t, s, uid, want[uid])
	}
	select {
	case <-client.Closed():
	case <-time.After(time.Minute): // a guard against a hang, not a speed assertion
		t.Errorf("the source session of %s is still open a minute after its move completed\n%s", users[0], s.src.Log())
	}
	events := moveEvents(t, dbPath, users[0])
	if !slices.Contains(events, "kick: sessions ended on src") {
		t.Errorf("events of %s = %q, want \"sessions ended on src\"", users[0], events)
	}
	if events := moveEvents(t, dbPath, users[1]); !slices.Contains(events, "kick: no open sessions on src") {
		t.Errorf("events of %s = %q, want \"no open sessions on src\"", users[1], events)
	}

	// Completing again is refused: the job and its moves are finished.
	r = runBinary(t, s.childEnv(), "complete", "-config", cfg, "-job", fmt.Sprint(jobID))
	if code := exitStatus(r.err); code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("complete job %d: job %d is", jobID, jobID)) {
		t.Errorf("movewizard complete of a finished job: want exit 1 with a sentence, got %s", r)
	}
	m := moveOf(t, dbPath, users[1])
	r = runBinary(t, s.childEnv(), "complete", "-config", cfg, "-move", fmt.Sprint(m.ID))
	if code := exitStatus(r.err); code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("complete move %d: move %d of %q is done\n", m.ID, m.ID, users[1])) {
		t.Errorf("movewizard complete of a done move: want exit 1 saying it is done, got %s", r)
	}
}

// withKick adds line to the src server of the config file at path.
func withKick(t *testing.T, path, line string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	anchor := fmt.Sprintf("home = %q\n", srcHome)
	if !strings.Contains(string(data), anchor) {
		t.Fatalf("config %s has no line %q", path, anchor)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), anchor, anchor+line+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// moveEvents lists uid's latest move's events as "kind: message".
func moveEvents(t *testing.T, dbPath, uid string) []string {
	t.Helper()
	m := moveOf(t, dbPath, uid)
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Events(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Events(%d) = %v", m.ID, err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind+": "+e.Message)
	}
	return out
}

// The refusals of movewizard complete need no server: they are records.
func TestCompleteRefusals(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "mw.toml", offlineConfig)
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(dir, "mw.db"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := store.CreateJob(ctx, model.Job{CreatedBy: "test", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1}, []string{"plain1"})
	if err != nil {
		t.Fatal(err)
	}
	staged, err := store.CreateJob(ctx, model.Job{CreatedBy: "test", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1, Stage: true},
		[]string{"done1", "cancelling1"})
	if err != nil {
		t.Fatal(err)
	}
	plainMoves, err := store.Moves(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := store.Moves(ctx, staged.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms[0].State, ms[0].Phase, ms[0].FinishedAt = model.MoveDone, model.PhaseDone, time.Now()
	if err := store.SaveMove(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	ms[1].State, ms[1].Phase = model.MoveRunning, model.PhaseCopy
	if err := store.SaveMove(ctx, ms[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CancelMove(ctx, ms[1].ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"job not staged", []string{"-job", fmt.Sprint(plain.ID)},
			fmt.Sprintf("movewizard: complete job %d: job %d is not staged: its moves complete by themselves\n", plain.ID, plain.ID)},
		{"move not staged", []string{"-move", fmt.Sprint(plainMoves[0].ID)},
			fmt.Sprintf("movewizard: complete move %d: move %d of \"plain1\" is not a staged move; it completes by itself\n", plainMoves[0].ID, plainMoves[0].ID)},
		{"move done", []string{"-move", fmt.Sprint(ms[0].ID)},
			fmt.Sprintf("movewizard: complete move %d: move %d of \"done1\" is done\n", ms[0].ID, ms[0].ID)},
		{"move being cancelled", []string{"-move", fmt.Sprint(ms[1].ID)},
			fmt.Sprintf("movewizard: complete move %d: move %d of \"cancelling1\" is being cancelled\n", ms[1].ID, ms[1].ID)},
		{"no such move", []string{"-move", "999"}, "movewizard: complete move 999: move 999: not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, append([]string{"complete", "-config", cfg}, tc.args...)...)
			if code := exitStatus(r.err); code != 1 {
				t.Fatalf("movewizard complete %v: exit %d, want 1\n%s", tc.args, code, r)
			}
			if r.stderr != tc.stderr || r.stdout != "" {
				t.Errorf("movewizard complete %v: stdout %q, stderr %q; want no stdout and stderr %q", tc.args, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

func TestStageUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.toml", offlineConfig)
	move := []string{"move", "-config", good, "-target", "dst", "-users", "user001"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"complete without job or move", []string{"complete", "-config", good}, "complete: give exactly one of -job and -move"},
		{"complete with job and move", []string{"complete", "-config", good, "-job", "1", "-move", "2"}, "complete: give exactly one of -job and -move"},
		{"complete negative", []string{"complete", "-config", good, "-job", "-3"}, "positive ids"},
		{"complete without config", []string{"complete", "-job", "1"}, "-config is required"},
		{"complete extra argument", []string{"complete", "-config", good, "-job", "1", "now"}, `unexpected argument "now"`},
		{"complete-at without stage", append(move, "-complete-at", "2099-01-01 10:00"), "-complete-at needs -stage"},
		{"complete-at not a time", append(move, "-stage", "-complete-at", "saturday"), `-complete-at: "saturday" is not a time`},
		{"complete-at passed", append(move, "-stage", "-complete-at", "2020-01-01T10:00:00Z"), `-complete-at: "2020-01-01T10:00:00Z" has passed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInProcess(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("run(%q) = exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "mw.db")); !os.IsNotExist(err) {
		t.Errorf("Stat(mw.db) = %v, want no database after usage errors", err)
	}
}

func TestParseCompleteAt(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-12T22:00:00+01:00", time.Date(2026, 12, 12, 21, 0, 0, 0, time.UTC)},
		{"2026-12-12 22:00", time.Date(2026, 12, 12, 22, 0, 0, 0, time.Local)},
	} {
		got, err := parseCompleteAt(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseCompleteAt(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestStageHelp(t *testing.T) {
	for _, tc := range []struct {
		command string
		want    []string
	}{
		{"complete", []string{"Usage: movewizard complete -config FILE (-job N | -move N)", "\n  -config", "\n  -job", "\n  -move", "\n  -v"}},
		{"move", []string{"With -stage it only copies", "\n  -stage", "\n  -complete-at"}},
	} {
		code, stdout, stderr := runInProcess(t, tc.command, "-h")
		if code != 0 {
			t.Fatalf("run(%s -h) exit code = %d, want 0", tc.command, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("run(%s -h) = %q, want it to contain %q", tc.command, stdout+stderr, w)
			}
		}
	}
	if _, stdout, _ := runInProcess(t, "help"); !strings.Contains(stdout, "movewizard complete -config FILE (-job N | -move N)") {
		t.Errorf("run(help) = %q, want the complete command listed", stdout)
	}
}

// A mailbox that cannot be synced makes move -stage exit 1; complete -move
// completes one mailbox of the job and reports only that one.
func TestStageFailedMailboxAndCompleteMove(t *testing.T) {
	t.Parallel()
	s := startServers(t, 1)
	uid := s.users[0]
	seed(t, s.src, uid)
	want := manifest(t, s.src, uid)
	checkSeeded(t, uid, want)
	cfg := s.config(t, "stagefail.db")
	dbPath := filepath.Join(s.dir, "stagefail.db")
	const ghost = "ghost01" // not in the directory

	r := runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", uid+","+ghost, "-stage",
		"-complete-at", "2099-01-02T03:04:00Z")
	if code := exitStatus(r.err); code != 1 || !strings.Contains(r.stderr, "1 mailboxes not synced") {
		t.Fatalf("movewizard move -stage with an unknown user: want exit 1 and \"1 mailboxes not synced\", got %s", r)
	}
	if !stagedSummary(uid).MatchString(r.stdout) || !summaryLine(ghost, model.MoveFailed).MatchString(r.stdout) {
		t.Errorf("movewizard move -stage stdout = %q, want %s synced and %s failed", r.stdout, uid, ghost)
	}
	if !strings.Contains(r.stdout, "staged: sync, then complete at ") {
		t.Errorf("movewizard move -stage -complete-at stdout = %q, want the job line to give the completion time", r.stdout)
	}
	m := moveOf(t, dbPath, uid)
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	j, err := d.Job(context.Background(), m.JobID)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if wantAt := time.Date(2099, 1, 2, 3, 4, 0, 0, time.UTC); !j.Stage || !j.CompleteAt.Equal(wantAt) {
		t.Errorf("job %d: stage %t, complete at %v; want staged, completing at %v", j.ID, j.Stage, j.CompleteAt, wantAt)
	}

	r = runBinary(t, s.childEnv(), "complete", "-config", cfg, "-move", fmt.Sprint(m.ID))
	if r.err != nil {
		t.Fatalf("movewizard complete -move %d: want exit 0, got %s", m.ID, r)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("move %d (%s): completion requested", m.ID, uid)) || !summaryDone(uid).MatchString(r.stdout) {
		t.Errorf("movewizard complete -move stdout = %q, want the request and %s done", r.stdout, uid)
	}
	if _, sum, _ := strings.Cut(r.stdout, "summary:"); strings.Contains(sum, ghost) {
		t.Errorf("movewizard complete -move stdout = %q, want only %s in the summary", r.stdout, uid)
	}
	assertMoved(t, s, uid, want)
}
