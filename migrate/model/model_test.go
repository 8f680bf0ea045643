package model

import "testing"

func TestOpenStates(t *testing.T) {
	for _, tc := range []struct {
		s    MoveState
		open bool
	}{
		{MoveQueued, true}, {MoveRunning, true}, {MoveSynced, true}, {MoveDone, false}, {MoveFailed, false},
		{MoveAbandoned, false}, {MoveCancelled, false}, {MoveAlreadyThere, false}, {"", false},
	} {
		if got := tc.s.Open(); got != tc.open {
			t.Errorf("MoveState(%q).Open() = %v, want %v", tc.s, got, tc.open)
		}
		if got := (Move{State: tc.s}).Unfinished(); got != tc.open {
			t.Errorf("Move{State: %q}.Unfinished() = %v, want %v", tc.s, got, tc.open)
		}
	}
	if got := OpenStatesList(); got != "queued running synced" {
		t.Errorf("OpenStatesList() = %q, want %q", got, "queued running synced")
	}
	if got := MoveSynced.Label(); got != "synced, waiting to complete" {
		t.Errorf("MoveSynced.Label() = %q", got)
	}
}

func TestPastCutover(t *testing.T) {
	for _, tc := range []struct {
		p    Phase
		past bool
	}{
		{"", false}, {PhasePreflight, false}, {PhaseHierarchy, false}, {PhaseCopy, false},
		{PhaseVerify, false}, {PhaseCleanup, false},
		{PhaseCutover, true}, {PhaseDelta, true}, {PhaseRemove, true}, {PhaseDone, true},
	} {
		if got := tc.p.PastCutover(); got != tc.past {
			t.Errorf("Phase(%q).PastCutover() = %v, want %v", tc.p, got, tc.past)
		}
	}
	if got := PastCutoverList(); got != "cutover delta remove done" {
		t.Errorf("PastCutoverList() = %q, want %q", got, "cutover delta remove done")
	}
}
