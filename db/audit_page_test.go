package db

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func TestAuditBefore(t *testing.T) {
	d := mustOpenDB(t)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		mustAddAudit(t, d, "alice", fmt.Sprintf("action %d", i), int64(i), 0, "")
	}
	for _, tc := range []struct {
		name     string
		before   int64
		limit    int
		wantJobs []int64
	}{
		{"newest", 0, 2, []int64{5, 4}},
		{"before 4", 4, 2, []int64{3, 2}},
		{"last page", 2, 2, []int64{1}},
		{"past the end", 1, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.AuditBefore(ctx, tc.before, tc.limit)
			if err != nil {
				t.Fatalf("AuditBefore(%d, %d) = %v", tc.before, tc.limit, err)
			}
			var ids []int64
			for _, a := range got {
				ids = append(ids, a.JobID)
			}
			if !slices.Equal(ids, tc.wantJobs) {
				t.Errorf("AuditBefore(%d, %d) jobs = %v, want %v", tc.before, tc.limit, ids, tc.wantJobs)
			}
		})
	}
}
