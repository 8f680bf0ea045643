package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// movewizard cancel says what the cancel did: a queued move is cancelled,
// a running one asked to stop, one past its cut-over refused (exit 1); a
// job cancel counts each kind. No server is reached: cancels are records.
func TestCancelCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "mw.toml", offlineConfig)
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(dir, "mw.db"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := store.CreateJob(ctx, model.Job{CreatedBy: "test", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1},
		[]string{"queued1", "copying", "delta", "queued2"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := store.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, phase := range map[int]model.Phase{1: model.PhaseCopy, 2: model.PhaseDelta} {
		ms[i].State, ms[i].Phase = model.MoveRunning, phase
		if err := store.SaveMove(ctx, ms[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"queued move", []string{"-move", fmt.Sprint(ms[0].ID)}, 0, fmt.Sprintf("move %d: cancelled\n", ms[0].ID), ""},
		{"running move", []string{"-move", fmt.Sprint(ms[1].ID)}, 0, fmt.Sprintf("move %d: cancel requested\n", ms[1].ID), ""},
		{"move past its cut-over", []string{"-move", fmt.Sprint(ms[2].ID)}, 1, "", "past its cut-over"},
		{"job", []string{"-job", fmt.Sprint(j.ID)}, 0,
			fmt.Sprintf("job %d: cancelled (queued moves cancelled: 1, running asked to stop: 1, past their cut-over and finishing: 1)\n", j.ID), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, env, append([]string{"cancel", "-config", cfg}, tc.args...)...)
			if code := exitStatus(r.err); code != tc.code {
				t.Fatalf("movewizard cancel %v: exit %d, want %d\n%s", tc.args, code, tc.code, r)
			}
			if r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("movewizard cancel %v: stdout %q, stderr %q; want stdout %q and stderr with %q", tc.args, r.stdout, r.stderr, tc.stdout, tc.stderr)
			}
		})
	}
}
