package migrate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// eightBit is a message with raw UTF-8 in its header, as Cyrus as shipped
// (munge8bit: 1) receives it and stores it with the bytes replaced by 'X'.
func eightBit(i int) seedMsg {
	m := msg("INBOX", "plain", 100+i)
	m.body = []byte(strings.Replace(string(m.body), "From: a@example.org", "From: Eva Müller <eva@example.org>", 1))
	return m
}

// TestVerifyComparesBytes moves through a target that rewrites 8-bit header
// bytes without changing the size. Verified means the same bytes: each
// altered copy is a bad item with the reason, removed from the target and
// kept on the source, and the policy counts it.
func TestVerifyComparesBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy model.Policy
		want   model.MoveState
	}{
		{"skip", model.PolicySkip, model.MoveDone},
		{"abandon", model.PolicyAbandon, model.MoveAbandoned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '/', "alice")
			var msgs []seedMsg
			for i := 0; i < 10; i++ {
				msgs = append(msgs, msg("INBOX", "plain", i))
			}
			msgs = append(msgs, eightBit(1), eightBit(2), eightBit(3))
			e.seed(t, "alice", msgs)
			before := manifest(t, e.src, "alice", "INBOX")
			e.dst.Faults().AlterAppend(imapmem.Munge8bitHeader)

			m := e.move(t, ctx, "alice", model.Job{Policy: tc.policy, MaxBad: 5})
			if m.State != tc.want {
				t.Fatalf("move = %s (%s), want %s", m.State, m.Error, tc.want)
			}
			src := manifest(t, e.src, "alice", "INBOX")
			dst := manifest(t, e.dst, "alice", "INBOX")
			for _, d := range testenv.Messages(t, testenv.Mem(e.dst, "alice"), "INBOX") {
				if strings.Contains(string(d.Body), "XX") || strings.Contains(string(d.Body), "Eva M") {
					t.Errorf("target holds an altered or 8-bit copy: %q", d.Body)
				}
			}
			switch tc.want {
			case model.MoveDone:
				if len(dst) != 10 || len(src) != 3 {
					t.Fatalf("after the move: %d on the target, %d on the source; want 10 and the 3 the target altered", len(dst), len(src))
				}
				for _, s := range testenv.Messages(t, testenv.Mem(e.src, "alice"), "INBOX") {
					if !strings.Contains(string(s.Body), "Eva Müller") {
						t.Errorf("source kept %q, want only the 8-bit messages", s.Body)
					}
				}
				skipped, err := e.db.Skipped(ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(skipped) != 3 || m.Skipped != 3 {
					t.Fatalf("skipped = %d items (move says %d), want 3", len(skipped), m.Skipped)
				}
				for _, s := range skipped {
					if want := "the target changed the message: 2 bytes differ in the header"; s.Error != want {
						t.Errorf("skipped item reason = %q, want %q", s.Error, want)
					}
				}
			case model.MoveAbandoned:
				equalManifest(t, "source after the abandon", src, before)
				if len(dst) != 0 {
					t.Errorf("target holds %d messages after the abandon, want 0", len(dst))
				}
				if !strings.Contains(m.Error, "the target changed the message") {
					t.Errorf("abandon reason = %q, want it to say the target changed the message", m.Error)
				}
			}
		})
	}
}

// TestReadBackDuringCopy checks that the copies of each folder are read
// back and marked verified while the copy goes on (before the verify
// phase starts), and that a copy the target altered is not marked.
func TestReadBackDuringCopy(t *testing.T) {
	ctx := context.Background()
	e := newMemEnv(t, '/', '/', "alice")
	var msgs []seedMsg
	for _, folder := range []string{"INBOX", "Archive", "Projects"} {
		for i := 0; i < 8; i++ {
			msgs = append(msgs, msg(folder, "plain", i))
		}
	}
	altered := eightBit(1)
	altered.folder = "Archive"
	msgs = append(msgs, altered)
	e.seed(t, "alice", msgs)
	e.dst.Faults().AlterAppend(imapmem.Munge8bitHeader)

	j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicySkip, MaxBad: 5, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	mv := e.mover()
	mv.Progress = func(m model.Move) {
		if m.Phase == model.PhaseVerify {
			stop()
		}
	}
	if _, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(stopCtx, j.ID); err == nil {
		t.Fatal("RunJobs() = nil, want the stop at the verify phase")
	}
	moves, err := e.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := e.db.Folders(ctx, moves[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	verified, unverified := 0, 0
	for _, f := range folders {
		copies, err := e.db.Copies(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range copies {
			if c.Verified {
				verified++
			} else {
				unverified++
			}
		}
	}
	if verified != 24 || unverified != 1 {
		t.Errorf("before the verify phase: %d copies verified, %d not; want 24 and the 1 the target altered", verified, unverified)
	}
}
