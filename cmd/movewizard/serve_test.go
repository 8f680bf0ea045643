package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// These tests run `movewizard serve` as a child process: the runner as a
// service that jobs are handed to through the database, that survives kill
// -9 at any moment, stops cleanly on SIGTERM and refuses a second instance.

const (
	// serveMarker is what serve prints once it listens.
	serveMarker = "serving on "
	// serveDoneWithin only keeps a stuck job from hanging the test run; it
	// is not a speed assertion.
	serveDoneWithin = 3 * time.Minute
	// serveStopWithin bounds the wait for a SIGTERMed serve, for the same
	// reason.
	serveStopWithin = 30 * time.Second
)

// serveSetup is a config for serve: the servers' config plus a listen
// address, the database path and the base URL of the web UI.
type serveSetup struct {
	config string
	dbPath string
	base   string
}

// serveConfig writes a config with database name and a listen address on a
// free loopback port.
func serveConfig(t *testing.T, s *servers, database string) serveSetup {
	t.Helper()
	path := s.config(t, database)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read config: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	// A top-level key must come before the first table.
	body = append([]byte(fmt.Sprintf("listen = %q\n", addr)), body...)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return serveSetup{config: path, dbPath: filepath.Join(s.dir, database), base: "http://" + addr}
}

// serveCreateJob stores a job for uids before any serve runs, the way the
// wizard's last step does, and returns its id.
func serveCreateJob(t *testing.T, dbPath string, j model.Job, uids []string) int64 {
	t.Helper()
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatalf("db.Open(%s) = %v", dbPath, err)
	}
	defer d.Close()
	created, err := d.CreateJob(context.Background(), j, uids)
	if err != nil {
		t.Fatalf("CreateJob() = %v", err)
	}
	return created.ID
}

// serveJob is the default job of these tests: three users to dst, skipping
// at most 5 bad items, two moves at once.
func serveJob() model.Job {
	return model.Job{Target: "dst", Policy: model.PolicySkip, MaxBad: 5, Parallel: 2, CreatedBy: "test"}
}

// serveProc is a running `movewizard serve`.
type serveProc struct {
	cmd    *exec.Cmd
	out    *watchWriter
	errOut *watchWriter
	exited chan struct{}
	err    error // valid once exited is closed
}

// serveStart starts serve with cfg and waits until it listens. A serve
// still running when the test ends is killed.
func serveStart(t *testing.T, s *servers, cfg serveSetup) *serveProc {
	t.Helper()
	p := &serveProc{cmd: exec.Command(binPath, "serve", "-config", cfg.config),
		out: newWatchWriter(serveMarker), errOut: newWatchWriter("\x00"), exited: make(chan struct{})}
	p.cmd.Env = s.childEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start movewizard serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case <-p.out.seen:
	case <-p.exited:
		t.Fatalf("movewizard serve ended before %q: %s", serveMarker, p)
	case <-time.After(binTimeout):
		t.Fatalf("movewizard serve did not print %q within %v (hung?): %s", serveMarker, binTimeout, p)
	}
	return p
}

func (p *serveProc) String() string {
	return fmt.Sprintf("\nstdout:\n%s\nstderr:\n%s", p.out.String(), p.errOut.String())
}

// running fails the test if serve ended on its own: it runs until stopped.
func (p *serveProc) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("movewizard serve ended on its own: %v%s", p.err, p)
	default:
	}
}

// kill kills serve with SIGKILL, which must be what ends it.
func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	p.running(t)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill serve: %v", err)
	}
	<-p.exited
	if !killedBySIGKILL(p.err) {
		t.Fatalf("movewizard serve: want death by SIGKILL, got %v%s", p.err, p)
	}
}

// stop sends SIGTERM and waits for serve to exit, which must be with
// status 0.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	p.running(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM serve: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), serveStopWithin)
	defer cancel()
	select {
	case <-p.exited:
	case <-ctx.Done():
		// SIGQUIT makes the Go runtime print every goroutine's stack to
		// stderr: it shows where the stop is stuck.
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("movewizard serve did not exit within %v of SIGTERM (hung?)%s", serveStopWithin, p)
	}
	if p.err != nil {
		t.Fatalf("movewizard serve after SIGTERM: exit %v, want status 0%s", p.err, p)
	}
}

// serveHealth is the body of GET /healthz. Pointers tell a missing count
// from a zero one.
type serveHealth struct {
	Status       string `json:"status"`
	OpenJobs     *int   `json:"open_jobs"`
	RunningMoves *int   `json:"running_moves"`
}

func serveGetHealth(t *testing.T, base string) (serveHealth, int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET /healthz: read body: %v", err)
	}
	var h serveHealth
	if err := json.Unmarshal(body.Bytes(), &h); err != nil {
		t.Fatalf("GET /healthz: body %q is not JSON: %v", body.String(), err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET /healthz: Content-Type = %q, want application/json", ct)
	}
	return h, resp.StatusCode, body.String()
}

// serveWaitDone polls /healthz until no job is open, within
// serveDoneWithin.
func serveWaitDone(t *testing.T, p *serveProc, cfg serveSetup, jobID int64) {
	t.Helper()
	deadline := time.Now().Add(serveDoneWithin)
	for {
		p.running(t)
		h, code, body := serveGetHealth(t, cfg.base)
		if code != http.StatusOK || h.Status != "ok" || h.OpenJobs == nil {
			t.Fatalf("GET /healthz = %d %s, want 200 with status ok and open_jobs", code, body)
		}
		if *h.OpenJobs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d not finished within %v: %s%s", jobID, serveDoneWithin,
				serveDescribe(serveReadMoves(t, cfg.dbPath, jobID)), p)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serveReadMoves reads the moves of a job through a read-only connection,
// so that it can look while serve runs without taking the write lock (as
// db.Open's migrations would). Only the progress columns are filled.
func serveReadMoves(t *testing.T, dbPath string, jobID int64) []model.Move {
	t.Helper()
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	sdb, err := sql.Open("sqlite", "file:"+(&url.URL{Path: dbPath}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		t.Fatalf("open %s read-only: %v", dbPath, err)
	}
	defer sdb.Close()
	rows, err := sdb.Query(`SELECT id, uid, state, phase, msgs_done, msgs_total, skipped, error, directory_updated_at
		FROM moves WHERE job_id = ? ORDER BY id`, jobID)
	if err != nil {
		t.Fatalf("read moves of job %d: %v", jobID, err)
	}
	defer rows.Close()
	var moves []model.Move
	for rows.Next() {
		var m model.Move
		var dirUpdated string
		if err := rows.Scan(&m.ID, &m.UID, &m.State, &m.Phase, &m.MsgsDone, &m.MsgsTotal, &m.Skipped, &m.Error, &dirUpdated); err != nil {
			t.Fatalf("read moves of job %d: %v", jobID, err)
		}
		if dirUpdated != "" {
			m.DirectoryUpdated = time.Unix(1, 0) // only whether it is set matters here
		}
		moves = append(moves, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read moves of job %d: %v", jobID, err)
	}
	return moves
}

func serveDescribe(moves []model.Move) string {
	var parts []string
	for _, m := range moves {
		s := fmt.Sprintf("%s %s/%s %d/%d msgs dir=%v", m.UID, m.State, orDash(m.Phase), m.MsgsDone, m.MsgsTotal, !m.DirectoryUpdated.IsZero())
		if m.Error != "" {
			s += " (" + m.Error + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// serveWaitProgress polls the database until cond holds for the job's
// moves, within binTimeout.
func serveWaitProgress(t *testing.T, p *serveProc, cfg serveSetup, jobID int64, what string, cond func([]model.Move) bool) []model.Move {
	t.Helper()
	deadline := time.Now().Add(binTimeout)
	for {
		p.running(t)
		moves := serveReadMoves(t, cfg.dbPath, jobID)
		if cond(moves) {
			return moves
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: no %s within %v: %s%s", jobID, what, binTimeout, serveDescribe(moves), p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveAssertJobDone checks, with no serve running, that the job and each
// of its moves are done and that every user's mailbox moved exactly.
func serveAssertJobDone(t *testing.T, s *servers, cfg serveSetup, jobID int64, want map[string]map[string][]string) {
	t.Helper()
	d, err := db.Open(context.Background(), cfg.dbPath)
	if err != nil {
		t.Fatalf("db.Open(%s) = %v", cfg.dbPath, err)
	}
	defer d.Close()
	j, err := d.Job(context.Background(), jobID)
	if err != nil {
		t.Fatalf("Job(%d) = %v", jobID, err)
	}
	if j.State != model.JobDone || j.FinishedAt.IsZero() {
		t.Errorf("Job(%d) = state %s, finished %v; want done, finished", jobID, j.State, j.FinishedAt)
	}
	moves, err := d.Moves(context.Background(), jobID)
	if err != nil {
		t.Fatalf("Moves(%d) = %v", jobID, err)
	}
	if len(moves) != len(want) {
		t.Errorf("Moves(%d) = %d moves, want %d", jobID, len(moves), len(want))
	}
	for _, m := range moves {
		if m.State != model.MoveDone || m.Skipped != 0 {
			t.Errorf("move of %s = state %s, %d skipped (%s); want done, 0 skipped", m.UID, m.State, m.Skipped, m.Error)
		}
	}
	for uid, w := range want {
		assertMoved(t, s, uid, w)
	}
}

// serveSeeded starts the servers with n users, seeds them and returns the
// source manifests taken before any move.
func serveSeeded(t *testing.T, n int) (*servers, map[string]map[string][]string) {
	t.Helper()
	s := startServers(t, n)
	seed(t, s.src, s.users...)
	want := map[string]map[string][]string{}
	for _, uid := range s.users {
		want[uid] = manifest(t, s.src, uid)
		checkSeeded(t, uid, want[uid])
	}
	return s, want
}

// serveRand is the logged source of the random delays;
// MOVEWIZARD_TEST_SEED repeats a run's delays.
func serveRand(t *testing.T) *rand.Rand {
	t.Helper()
	seedValue := uint64(time.Now().UnixNano())
	if v := os.Getenv("MOVEWIZARD_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MOVEWIZARD_TEST_SEED=%q: %v", v, err)
		}
		seedValue = n
	}
	t.Logf("random seed %d (MOVEWIZARD_TEST_SEED=%d repeats the delays)", seedValue, seedValue)
	return rand.New(rand.NewPCG(seedValue, 1))
}

// serveRandDelay is a delay in [lo, hi).
func serveRandDelay(rnd *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rnd.Int64N(int64(hi-lo)))
}

// serveAfterProgress waits until the job's moves differ from how they
// stood when called (a batch committed, a phase or state changed), or no
// move is left to do.
func serveAfterProgress(t *testing.T, p *serveProc, cfg serveSetup, jobID int64) {
	t.Helper()
	before := serveDescribe(serveReadMoves(t, cfg.dbPath, jobID))
	serveWaitProgress(t, p, cfg, jobID, "progress", func(moves []model.Move) bool {
		return serveDescribe(moves) != before || !serveUnfinished(moves)
	})
}

func TestServeKilledAndResumes(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t) // busy machines are the normal case
	rnd := serveRand(t)
	s, want := serveSeeded(t, 3)
	cfg := serveConfig(t, s, "serve-kills.db")
	jobID := serveCreateJob(t, cfg.dbPath, serveJob(), s.users)

	const kills = 6
	const minDelay, maxDelay = 100 * time.Millisecond, 1500 * time.Millisecond
	for i := 0; i < kills; i++ {
		delay := serveRandDelay(rnd, minDelay, maxDelay)
		p := serveStart(t, s, cfg)
		from := "serving on"
		if i%2 == 1 {
			// Half the delays run from the first committed progress of this
			// run, so the kills do not all land in start-up (LDAP look-ups,
			// logins).
			from = "progress"
			serveAfterProgress(t, p, cfg, jobID)
		}
		time.Sleep(delay)
		p.kill(t)
		t.Logf("run %d killed %v after %s: %s", i+1, delay, from, serveDescribe(serveReadMoves(t, cfg.dbPath, jobID)))
	}

	p := serveStart(t, s, cfg)
	serveWaitDone(t, p, cfg, jobID)
	p.stop(t)
	serveAssertJobDone(t, s, cfg, jobID, want)
}

// serveUnfinished reports whether any move still has work to do.
func serveUnfinished(moves []model.Move) bool {
	for _, m := range moves {
		if m.Unfinished() {
			return true
		}
	}
	return false
}

// TestServeGracefulStop stops serve with SIGTERM while it copies, several
// times at random moments: each time it must exit 0 promptly, say that the
// moves resume, and leave them resumable; then a last run finishes the job.
func TestServeGracefulStop(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t) // busy machines are the normal case
	rnd := serveRand(t)
	s, want := serveSeeded(t, 3)
	cfg := serveConfig(t, s, "serve-stop.db")
	jobID := serveCreateJob(t, cfg.dbPath, serveJob(), s.users)

	const stops = 4
	for i := 0; i < stops; i++ {
		p := serveStart(t, s, cfg)
		if i == 0 {
			serveWaitProgress(t, p, cfg, jobID, "message copied", func(moves []model.Move) bool {
				for _, m := range moves {
					if m.MsgsDone > 0 {
						return true
					}
				}
				return false
			})
		} else {
			serveAfterProgress(t, p, cfg, jobID)
		}
		// A random moment of the copy, mostly with bodies streaming.
		delay := serveRandDelay(rnd, 0, 600*time.Millisecond)
		time.Sleep(delay)
		p.stop(t)
		if !strings.Contains(p.out.String(), "unfinished moves resume at the next start") {
			t.Errorf("serve stdout after SIGTERM = %q, want it to say unfinished moves resume at the next start", p.out.String())
		}
		moves := serveReadMoves(t, cfg.dbPath, jobID)
		t.Logf("run %d stopped %v after progress: %s", i+1, delay, serveDescribe(moves))
		for _, m := range moves {
			if m.State != model.MoveQueued && m.State != model.MoveRunning && m.State != model.MoveDone {
				t.Errorf("move of %s after SIGTERM = state %s (%s), want running, queued or done", m.UID, m.State, m.Error)
			}
		}
		if !serveUnfinished(moves) {
			if i == 0 {
				t.Fatalf("after the first SIGTERM every move had ended (%s): the job was too small to interrupt", serveDescribe(moves))
			}
			break
		}
	}

	p := serveStart(t, s, cfg)
	serveWaitDone(t, p, cfg, jobID)
	p.stop(t)
	serveAssertJobDone(t, s, cfg, jobID, want)
}

func TestServeSecondInstanceRefused(t *testing.T) {
	t.Parallel()
	s := startServers(t, 1)
	cfg := serveConfig(t, s, "serve-lock.db")
	uid := s.users[0]
	p := serveStart(t, s, cfg)

	for _, args := range [][]string{
		{"serve", "-config", cfg.config},
		{"move", "-config", cfg.config, "-target", "dst", "-users", uid},
		{"resume", "-config", cfg.config},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runBinary(t, s.childEnv(), args...)
			if exitStatus(r.err) <= 0 {
				t.Errorf("movewizard %s while serve runs: want a non-zero exit, got %s", args[0], r)
			}
			if !strings.Contains(r.stderr, db.ErrLocked.Error()) {
				t.Errorf("movewizard %s while serve runs: stderr = %q, want %q", args[0], r.stderr, db.ErrLocked.Error())
			}
		})
	}
	// The refused commands changed nothing: the first serve still answers
	// and no job was created.
	p.running(t)
	h, code, body := serveGetHealth(t, cfg.base)
	if code != http.StatusOK || h.OpenJobs == nil || *h.OpenJobs != 0 {
		t.Errorf("GET /healthz after the refused commands = %d %s, want 200 with open_jobs 0", code, body)
	}
	p.stop(t)
	if got := s.home(t, uid); len(got) != 1 || got[0] != srcHome {
		t.Errorf("mailHost of %s = %q, want [%s]", uid, got, srcHome)
	}
}

func TestServeHealth(t *testing.T) {
	t.Parallel()
	s := startServers(t, 2)
	cfg := serveConfig(t, s, "serve-health.db")
	// A job that starts in an hour stays open without running a move.
	later := serveJob()
	later.StartAt = time.Now().Add(time.Hour)
	serveCreateJob(t, cfg.dbPath, later, s.users)

	p := serveStart(t, s, cfg)
	h, code, body := serveGetHealth(t, cfg.base)
	if code != http.StatusOK {
		t.Errorf("GET /healthz status = %d, want %d (body %s)", code, http.StatusOK, body)
	}
	if h.Status != "ok" {
		t.Errorf("GET /healthz status field = %q, want %q (body %s)", h.Status, "ok", body)
	}
	if h.OpenJobs == nil || *h.OpenJobs != 1 {
		t.Errorf("GET /healthz open_jobs = %s, want 1 (body %s)", serveIntOrMissing(h.OpenJobs), body)
	}
	if h.RunningMoves == nil || *h.RunningMoves != 0 {
		t.Errorf("GET /healthz running_moves = %s, want 0 (body %s)", serveIntOrMissing(h.RunningMoves), body)
	}
	p.stop(t)
}

func serveIntOrMissing(n *int) string {
	if n == nil {
		return "missing"
	}
	return strconv.Itoa(*n)
}
