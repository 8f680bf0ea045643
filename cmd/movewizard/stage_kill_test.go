package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// TestKillDuringCompletion: a staged job is synced by movewizard move
// -stage; then movewizard complete is killed with SIGKILL at random moments
// of the completion (its last sync, the cut-over, the kick, the final
// delta, the removal) and resumed each time, with the CPUs saturated. The
// end is the same as an uninterrupted move: the target holds exactly the
// source's mail once, the source is emptied, the directory was changed
// once.
func TestKillDuringCompletion(t *testing.T) {
	t.Parallel()
	testserver.Saturate(t)
	seedValue := uint64(time.Now().UnixNano())
	if v := os.Getenv("MOVEWIZARD_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MOVEWIZARD_TEST_SEED=%q: %v", v, err)
		}
		seedValue = n
	}
	t.Logf("random seed %d (MOVEWIZARD_TEST_SEED=%d repeats the kill delays)", seedValue, seedValue)
	rnd := rand.New(rand.NewPCG(seedValue, 1))

	s := startServers(t, 2)
	seed(t, s.src, s.users...)
	want := map[string]map[string][]string{}
	for _, uid := range s.users {
		want[uid] = manifest(t, s.src, uid)
		checkSeeded(t, uid, want[uid])
	}
	doveadm := testserver.RequireBinary(t, "doveadm")
	const dbName = "stagekills.db"
	cfg := s.config(t, dbName)
	withKick(t, cfg, fmt.Sprintf("kick_command = [%q, \"-c\", %q, \"kick\", \"{user}\"]", doveadm, s.src.ConfigPath))
	dbPath := filepath.Join(s.dir, dbName)

	r := runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", strings.Join(s.users, ","), "-stage", "-parallel", "2")
	if r.err != nil {
		t.Fatalf("movewizard move -stage: want exit 0, got %s", r)
	}
	jobID := moveOf(t, dbPath, s.users[0]).JobID
	complete := []string{"complete", "-config", cfg, "-job", strconv.FormatInt(jobID, 10)}
	resume := []string{"resume", "-config", cfg}
	const kills = 8
	for i := 0; i < kills; i++ {
		args := resume
		if i == 0 {
			args = complete
		}
		delay := 5*time.Millisecond + time.Duration(rnd.Int64N(int64(250*time.Millisecond)))
		killed := killAfter(t, s.childEnv(), " running ", delay, args...)
		var states []string
		for _, uid := range s.users {
			m := moveOf(t, dbPath, uid)
			states = append(states, fmt.Sprintf("%s %s/%s dir=%v", uid, m.State, orDash(m.Phase), !m.DirectoryUpdated.IsZero()))
		}
		t.Logf("run %d (%s) killed=%v after %v: %s", i+1, args[0], killed, delay, strings.Join(states, "; "))
		if !killed {
			break // it finished before the kill
		}
	}
	if r := runBinary(t, s.childEnv(), resume...); r.err != nil {
		t.Fatalf("final movewizard resume: want exit 0, got %s", r)
	}
	for _, uid := range s.users {
		if m := moveOf(t, dbPath, uid); m.State != model.MoveDone || m.Skipped != 0 {
			t.Errorf("move of %s = %s, %d skipped (%s); want done", uid, m.State, m.Skipped, m.Error)
		}
		assertMoved(t, s, uid, want[uid])
		logRepairs(t, dbPath, uid)
	}
}
