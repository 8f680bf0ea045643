package migrate

import "testing"

// TestSyncAction: before the cut-over the source wins; after it a change
// made only on the source since the last sync is carried, one made on the
// target too is kept, and a copy the last sync did not see is left alone.
func TestSyncAction(t *testing.T) {
	seen, flagged := `\seen`, `\flagged \seen`
	for _, tc := range []struct {
		name            string
		after, inSource bool
		src             string
		onTarget        bool
		dst             string
		base            *string
		want            int
	}{
		{"before: same", false, true, seen, true, seen, nil, syncNothing},
		{"before: source changed", false, true, flagged, true, seen, nil, syncSetFlags},
		{"before: target changed", false, true, seen, true, flagged, &seen, syncSetFlags},
		{"before: gone from the source", false, false, "", true, seen, nil, syncRemove},
		{"before: gone from the target", false, true, seen, false, "", nil, syncNothing},
		{"after: source changed", true, true, flagged, true, seen, &seen, syncSetFlags},
		{"after: target changed", true, true, seen, true, flagged, &seen, syncNothing},
		{"after: both changed", true, true, flagged, true, "", &seen, syncConflict},
		{"after: both changed alike", true, true, flagged, true, flagged, &seen, syncNothing},
		{"after: not seen by the last sync", true, true, flagged, true, seen, nil, syncNothing},
		{"after: deleted on the source", true, false, "", true, seen, &seen, syncRemove},
		{"after: deleted on the source, changed on the target", true, false, "", true, flagged, &seen, syncKeepOnTarget},
		{"after: deleted on the source, not seen by the last sync", true, false, "", true, seen, nil, syncKeepOnTarget},
		{"after: deleted on both", true, false, "", false, "", &seen, syncForget},
		{"after: deleted on the target", true, true, seen, false, "", &seen, syncNothing},
	} {
		if got := syncAction(tc.after, tc.inSource, tc.src, tc.onTarget, tc.dst, tc.base); got != tc.want {
			t.Errorf("%s: syncAction() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
