package migrate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
)

// The mover runs the source's kick action right after the directory
// update, before the final delta, and records what it did; a kick that
// fails is an event, and the move still ends done.
func TestMoveKicksSourceSessions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string // of the kick script
		event string
	}{
		{"kick succeeds", "exit 0", "kick: sessions ended on src"},
		{"no sessions open", "echo 'no users kicked' >&2; exit 68", "kick: no open sessions on src"},
		{"kick fails", "echo 'anvil: connection refused' >&2; exit 1", `kick: kick failed: end the sessions of "alice" on src: kick_command [`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '/', "alice")
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			record := filepath.Join(dir, "args")
			script := filepath.Join(dir, "kick.sh")
			src := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" >> %q\n%s\n", record, tc.body)
			if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
				t.Fatal(err)
			}
			e.cfg.Servers[0].Kick = config.Kick{Command: []string{script, "kick", "{user}"}}
			e.seed(t, "alice", []seedMsg{msg("INBOX", "hello", 1), msg("INBOX", "hello", 2)})
			want := manifest(t, e.src, "alice", "INBOX")

			m := e.move(t, ctx, "alice", model.Job{})
			if m.State != model.MoveDone {
				t.Fatalf("move state = %s (%s), want done", m.State, m.Error)
			}
			equalManifest(t, "INBOX", manifest(t, e.dst, "alice", "INBOX"), want)
			args, err := os.ReadFile(record)
			if err != nil || string(args) != "kick\nalice\n" {
				t.Errorf("kick_command arguments = %q (%v), want kick and alice, once", args, err)
			}
			evs, err := e.db.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, ev := range evs {
				lines = append(lines, ev.Kind+": "+ev.Message)
			}
			kick := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, tc.event) })
			cutover := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "cutover: ") })
			delta := slices.Index(lines, "phase: "+string(model.PhaseDelta))
			if kick < 0 || cutover < 0 || delta < 0 || !(cutover < kick && kick < delta) {
				t.Errorf("events = %q, want %q after the cut-over and before the delta phase", lines, tc.event)
			}
		})
	}
}

// TestMoveKicksAgainAfterPropagation: with a propagation delay the mover
// ends the user's sessions on the source again when the delay is over, so
// that a session opened meanwhile through a look-up cached from before the
// update does not outlast the start of the final delta pass.
func TestMoveKicksAgainAfterPropagation(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(dir, "args")
	script := filepath.Join(dir, "kick.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" >> %q\n", record)), 0o755); err != nil {
		t.Fatal(err)
	}
	e.cfg.Servers[0].Kick = config.Kick{Command: []string{script, "{user}"}}
	e.cfg.Directory.PropagationDelay = 50 * time.Millisecond
	e.seed(t, "alice", []seedMsg{msg("INBOX", "hello", 1)})
	if m := e.move(t, ctx, "alice", model.Job{}); m.State != model.MoveDone {
		t.Fatalf("move state = %s (%s), want done", m.State, m.Error)
	}
	if args, err := os.ReadFile(record); err != nil || string(args) != "alice\nalice\n" {
		t.Errorf("kick_command ran with %q (%v), want twice for alice", args, err)
	}
}
