package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestOddFolderNames moves folders whose names hold the other server's
// separator, markup, quotes, wildcards and non-ASCII, both ways between a
// "." and a "/" server: one source level stays one target level, with the
// separator replaced by a look-alike.
func TestOddFolderNames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst rune
		folders  map[string]string // source name -> expected target name
	}{
		{"dot to slash", '.', '/', map[string]string{
			"v1/2":               "v1∕2",
			"Q&A":                "Q&A",
			"<script>x</script>": "<script>x<∕script>",
			`say "hi" 100%`:      `say "hi" 100%`,
			"Été.Août/9":         "Été/Août∕9",
			"日本語":                "日本語",
		}},
		{"slash to dot", '/', '.', map[string]string{
			"v1.2":        "v1․2",
			"a.b/c.d":     "a․b.c․d",
			"Reçus/Été":   "Reçus.Été",
			"back\\slash": "back\\slash",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMemEnv(t, tc.src, tc.dst, "alice")
			want := map[string][]string{}
			i := 0
			for src := range tc.folders {
				e.seed(t, "alice", []seedMsg{msg(src, "odd", i), msg(src, "odd", i+100)})
				want[src] = manifest(t, e.src, "alice", src)
				i++
			}
			m := e.move(t, context.Background(), "alice", model.Job{})
			if m.State != model.MoveDone {
				t.Fatalf("move = %s (%s), want done", m.State, m.Error)
			}
			for src, dst := range tc.folders {
				equalManifest(t, dst, manifest(t, e.dst, "alice", dst), want[src])
			}
		})
	}
}

// cyrusRefuses are the characters Cyrus 3.6 refuses in a folder name
// ("NO Invalid mailbox name"); "." is the target's separator in these tests.
const cyrusRefuses = `<>%;\/{}|"!`

// refusedCorpus is a "/" source whose names a Cyrus-like "." target partly
// refuses: source name -> the name the move must give it on the target.
var refusedCorpus = map[string]string{
	"INBOX":                            "INBOX",
	"<img src=x onerror=alert(1)>":     "‹img src=x onerror=alert(1)›",
	"<img src=x onerror=alert(1)>/sub": "‹img src=x onerror=alert(1)›.sub", // follows its renamed parent
	"<img src=x onerror=alert(1)>/a;b": "‹img src=x onerror=alert(1)›.a；b", // and is renamed itself
	"Projects":                         "Projects",
	"Projects/100% done":               "Projects.100％ done",
	`Projects/Say "hi"`:                "Projects.Say ＂hi＂",
	"v1.2":                             "v1․2", // the separator inside a level, as before
	"Work":                             "Work",
}

// seedRefused seeds two messages per folder of names and returns the
// source manifests.
func seedRefused(t *testing.T, e *memEnv, names map[string]string) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	i := 0
	for src := range names {
		e.seed(t, "alice", []seedMsg{msg(src, "odd", i), msg(src, "odd", i+100)})
		want[src] = manifest(t, e.src, "alice", src)
		i++
	}
	return want
}

// renameEvents returns the move's folder-renamed events, source -> target.
func renameEvents(t *testing.T, e *memEnv, moveID int64) map[string]string {
	t.Helper()
	events, err := e.db.Events(context.Background(), moveID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ev := range events {
		if ev.Kind != migrate.EventFolderRenamed {
			continue
		}
		fr, ok := migrate.ParseFolderRename(ev.Message)
		if !ok {
			t.Errorf("event %q: not a folder rename", ev.Message)
			continue
		}
		if prev, dup := out[fr.Source]; dup {
			t.Errorf("folder %q renamed twice: to %q and %q", fr.Source, prev, fr.Target)
		}
		out[fr.Source] = fr.Target
	}
	return out
}

// checkRefusedMove checks a finished move of refusedCorpus (or another
// name map): done, nothing skipped, every folder under its mapped name with
// its messages, and one rename event per folder whose name changed.
func checkRefusedMove(t *testing.T, e *memEnv, m model.Move, names map[string]string, want map[string][]string) {
	t.Helper()
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s, %d skipped (%s), want done, none skipped", m.State, m.Skipped, m.Error)
	}
	for src, dst := range names {
		equalManifest(t, fmt.Sprintf("target %q (from %q)", dst, src), manifest(t, e.dst, "alice", dst), want[src])
	}
	wantEvents := map[string]string{}
	for src, dst := range names {
		if strings.ReplaceAll(src, "/", ".") != dst && src != "v1.2" {
			wantEvents[src] = dst
		}
	}
	if got := renameEvents(t, e, m.ID); !maps.Equal(got, wantEvents) {
		t.Errorf("rename events = %q, want %q", got, wantEvents)
	}
	folders, err := e.db.Folders(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if dst := names[f.Source]; f.Target != dst {
			t.Errorf("folder row %q: target %q, want %q", f.Source, f.Target, dst)
		}
	}
}

// TestRefusedFolderNames: a target that refuses some characters in folder
// names (as Cyrus does) gets those folders under look-alike names, their
// children under the renamed parent, and the move is done, not abandoned.
func TestRefusedFolderNames(t *testing.T) {
	e := newMemEnv(t, '/', '.', "alice")
	want := seedRefused(t, e, refusedCorpus)
	e.dst.Faults().RefuseCreate(cyrusRefuses)
	m := e.move(t, context.Background(), "alice", model.Job{Policy: model.PolicySkip, MaxBad: 0})
	checkRefusedMove(t, e, m, refusedCorpus, want)
}

// TestRefusedFolderNameCollision: the look-alike name belongs to another
// folder (of the move, or the target's own): the renamed folder gets a
// free name instead, never merges into the other.
func TestRefusedFolderNameCollision(t *testing.T) {
	e := newMemEnv(t, '/', '.', "alice")
	names := map[string]string{
		"<a>":     "‹a› (2)", // "‹a›" is the next source folder's
		"‹a›":     "‹a›",
		"<b>":     "‹b› (2)", // "‹b›" is on the target already
		"<b>/kid": "‹b› (2).kid",
	}
	want := seedRefused(t, e, names)
	if err := e.dst.CreateMailbox("alice", "‹b›", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dst.AddMessage("alice", "‹b›", nil, time.Now(), []byte("Subject: theirs\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	e.dst.Faults().RefuseCreate(cyrusRefuses)
	m := e.move(t, context.Background(), "alice", model.Job{Policy: model.PolicySkip})
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s, %d skipped (%s), want done", m.State, m.Skipped, m.Error)
	}
	for src, dst := range names {
		equalManifest(t, fmt.Sprintf("target %q (from %q)", dst, src), manifest(t, e.dst, "alice", dst), want[src])
	}
	if got := len(manifest(t, e.dst, "alice", "‹b›")); got != 1 {
		t.Errorf("the target's own ‹b› holds %d messages, want its 1", got)
	}
}

// TestRefusedFolderNamesResumed stops the move at points of the hierarchy
// phase (as a kill would: nothing after the point is recorded) and resumes
// it: the same target names, each rename recorded once.
func TestRefusedFolderNamesResumed(t *testing.T) {
	for _, tc := range []struct {
		point string
		nth   int // stop at the nth time the point is reached
	}{
		{"hierarchy-refused", 1}, // refused, mapped name not yet recorded
		{"hierarchy-refused", 3},
		{"hierarchy-create", 2}, // the renamed parent created, its children not yet
		{"hierarchy-create", 6},
		{"hierarchy-done", 1},
	} {
		t.Run(fmt.Sprintf("%s:%d", tc.point, tc.nth), func(t *testing.T) {
			e := newMemEnv(t, '/', '.', "alice")
			want := seedRefused(t, e, refusedCorpus)
			e.dst.Faults().RefuseCreate(cyrusRefuses)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			j, err := e.db.CreateJob(ctx, model.Job{Target: "dst", Policy: model.PolicySkip, Parallel: 1, CreatedBy: "test"}, []string{"alice"})
			if err != nil {
				t.Fatal(err)
			}
			mv := e.mover()
			seen := 0
			mv.Crash = func(point string) {
				if point == tc.point {
					if seen++; seen == tc.nth {
						stop()
					}
				}
			}
			if _, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID); !errors.Is(err, context.Canceled) {
				t.Fatalf("RunJobs() = %v, want it stopped at %s", err, tc.point)
			}
			if seen < tc.nth {
				t.Fatalf("point %s reached %d times, want %d", tc.point, seen, tc.nth)
			}
			m := runWith(t, e, e.mover(), j.ID)
			checkRefusedMove(t, e, m, refusedCorpus, want)
		})
	}
}

// TestFolderRefusedEvenMapped: a folder the target refuses under its
// mapped name too is not on the target; its messages are bad items, which
// the error policy counts; they stay on the source.
func TestFolderRefusedEvenMapped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		job     model.Job
		empty   bool
		state   model.MoveState
		skipped int
	}{
		{"skip", model.Job{Policy: model.PolicySkip, MaxBad: 3}, false, model.MoveDone, 3},
		// The item that abandons the move is not counted as skipped.
		{"skip over the maximum", model.Job{Policy: model.PolicySkip, MaxBad: 2}, false, model.MoveAbandoned, 2},
		{"abandon", model.Job{Policy: model.PolicyAbandon}, false, model.MoveAbandoned, 0},
		{"abandon, empty folder", model.Job{Policy: model.PolicyAbandon}, true, model.MoveDone, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, '/', '.', "alice")
			bad := "<bad>"
			if tc.empty {
				if err := e.src.CreateMailbox("alice", bad, ""); err != nil {
					t.Fatal(err)
				}
			} else {
				e.seed(t, "alice", []seedMsg{msg(bad, "bad", 1), msg(bad, "bad", 2), msg(bad, "bad", 3)})
			}
			e.seed(t, "alice", []seedMsg{msg("INBOX", "in", 1), msg("Work", "work", 1)})
			before := map[string][]string{"INBOX": manifest(t, e.src, "alice", "INBOX"), "Work": manifest(t, e.src, "alice", "Work"),
				bad: manifest(t, e.src, "alice", bad)}
			e.dst.Faults().RefuseCreate("<‹")
			m := e.move(t, ctx, "alice", tc.job)
			if m.State != tc.state || m.Skipped != tc.skipped {
				t.Fatalf("move = %s, %d skipped (%s), want %s, %d skipped", m.State, m.Skipped, m.Error, tc.state, tc.skipped)
			}
			items, err := e.db.Skipped(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if it.Folder != bad || !strings.Contains(it.Error, "target folder not created") ||
					!strings.Contains(it.Error, "Invalid mailbox name") || it.MessageID == "" {
					t.Errorf("skipped item %+v, want one of %q with the refusal", it, bad)
				}
			}
			if len(items) != tc.skipped {
				t.Errorf("%d skipped items recorded, want %d", len(items), tc.skipped)
			}
			// Never on the target under any name; always kept on the source.
			boxes, err := e.dst.Mailboxes("alice")
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range boxes {
				if strings.Contains(b.Name, "bad") {
					t.Errorf("target has %q", b.Name)
				}
			}
			equalManifest(t, "source "+bad, manifest(t, e.src, "alice", bad), before[bad])
			events, err := e.db.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range events {
				if ev.Kind == migrate.EventFolderNotCreated {
					n++
					if !strings.Contains(ev.Message, `"<bad>"`) || !strings.Contains(ev.Message, `"‹bad›"`) {
						t.Errorf("event %q, want both names tried", ev.Message)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d %s events, want 1", n, migrate.EventFolderNotCreated)
			}
			if tc.state == model.MoveDone {
				for _, f := range []string{"INBOX", "Work"} {
					equalManifest(t, "target "+f, manifest(t, e.dst, "alice", f), before[f])
				}
				return
			}
			assertUntouched(t, e, map[string][]string{"INBOX": before["INBOX"], "Work": before["Work"]})
		})
	}
}
