package db

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

// pageFixture is a job of five moves in various states and progress.
func pageFixture(t *testing.T) (*DB, model.Job, []model.Move) {
	t.Helper()
	ctx := context.Background()
	d := mustOpenDB(t)
	j, err := d.CreateJob(ctx, testJob(), []string{"carol", "alice", "bob_1", "bobx1", "dave"})
	if err != nil {
		t.Fatalf("CreateJob() = %v", err)
	}
	ms, err := d.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	set := func(i int, st model.MoveState, done, total int64, skipped int, errText string) {
		ms[i].State, ms[i].BytesDone, ms[i].BytesTotal, ms[i].Skipped, ms[i].Error = st, done, total, skipped, errText
		ms[i].MsgsDone, ms[i].MsgsTotal = done/10, total/10
		if err := d.SaveMove(ctx, ms[i]); err != nil {
			t.Fatal(err)
		}
	}
	set(0, model.MoveRunning, 50, 100, 0, "")    // carol 0.5
	set(1, model.MoveDone, 200, 200, 2, "")      // alice 1.0, 2 skipped
	set(2, model.MoveFailed, 10, 100, 0, "boom") // bob_1 0.1
	set(3, model.MoveQueued, 0, 0, 0, "")        // bobx1 0
	set(4, model.MoveRunning, 90, 100, 1, "")    // dave 0.9
	return d, j, ms
}

func uidsOf(ms []model.Move) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

func TestMovesPage(t *testing.T) {
	d, j, _ := pageFixture(t)
	tests := []struct {
		name    string
		q       MovesQuery
		want    []string
		matched int
	}{
		{"creation order", MovesQuery{Limit: 10}, []string{"carol", "alice", "bob_1", "bobx1", "dave"}, 5},
		{"second page", MovesQuery{Limit: 2, Offset: 2}, []string{"bob_1", "bobx1"}, 5},
		{"past the end", MovesQuery{Limit: 2, Offset: 6}, nil, 5},
		{"by state", MovesQuery{State: model.MoveRunning, Limit: 10}, []string{"carol", "dave"}, 2},
		{"not running", MovesQuery{NotState: model.MoveRunning, Limit: 10}, []string{"alice", "bob_1", "bobx1"}, 3},
		{"search is case-insensitive", MovesQuery{Search: "BOB", Limit: 10}, []string{"bob_1", "bobx1"}, 2},
		{"search escapes LIKE wildcards", MovesQuery{Search: "b_1", Limit: 10}, []string{"bob_1"}, 1},
		{"search percent matches nothing", MovesQuery{Search: "%", Limit: 10}, nil, 0},
		{"mailbox", MovesQuery{Sort: SortMailbox, Limit: 10}, []string{"alice", "bob_1", "bobx1", "carol", "dave"}, 5},
		{"mailbox desc", MovesQuery{Sort: SortMailbox, Desc: true, Limit: 2}, []string{"dave", "carol"}, 5},
		{"state", MovesQuery{Sort: SortState, Limit: 10}, []string{"carol", "dave", "bobx1", "bob_1", "alice"}, 5},
		{"progress desc", MovesQuery{Sort: SortProgress, Desc: true, Limit: 10}, []string{"alice", "dave", "carol", "bob_1", "bobx1"}, 5},
		{"errors desc", MovesQuery{Sort: SortErrors, Desc: true, Limit: 10}, []string{"bob_1", "alice", "dave", "carol", "bobx1"}, 5},
		{"filter, search and sort", MovesQuery{Search: "a", Sort: SortProgress, Limit: 10}, []string{"carol", "dave", "alice"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matched, err := d.MovesPage(context.Background(), j.ID, tt.q)
			if err != nil {
				t.Fatalf("MovesPage(%+v) = %v", tt.q, err)
			}
			if !slices.Equal(uidsOf(got), tt.want) || matched != tt.matched {
				t.Errorf("MovesPage(%+v) = %v, %d matched; want %v, %d", tt.q, uidsOf(got), matched, tt.want, tt.matched)
			}
		})
	}
	if _, _, err := d.MovesPage(context.Background(), j.ID, MovesQuery{Sort: "rate", Limit: 1}); err == nil {
		t.Errorf("MovesPage(sort rate) = nil error, want one: SQL cannot order by rate")
	}
}

func TestJobTotals(t *testing.T) {
	d, j, _ := pageFixture(t)
	got, err := d.JobTotals(context.Background(), j.ID)
	if err != nil {
		t.Fatalf("JobTotals() = %v", err)
	}
	want := JobTotals{Mailboxes: 5, ByState: map[model.MoveState]int{model.MoveRunning: 2, model.MoveDone: 1, model.MoveFailed: 1, model.MoveQueued: 1},
		MsgsDone: 5 + 20 + 1 + 9, MsgsTotal: 10 + 20 + 10 + 10, BytesDone: 350, BytesTotal: 500, Skipped: 3,
		BytesLeft: 50 + 10, Unsized: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("JobTotals() = %+v, want %+v", got, want)
	}
	empty, err := d.JobTotals(context.Background(), j.ID+1)
	if err != nil || empty.Mailboxes != 0 {
		t.Errorf("JobTotals(no job) = %+v, %v; want zero totals", empty, err)
	}
}
