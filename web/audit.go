package web

import (
	"fmt"
	"time"
)

// AuditView is one page of the audit log, newest first.
type AuditView struct {
	Entries []AuditRow
	// Older links to the next page of older entries; "" on the last page.
	Older string
	// Paged is true when this is not the newest page.
	Paged bool
}

// AuditRow is one administrative action.
type AuditRow struct {
	ID            int64
	At            time.Time
	Actor, Action string
	JobID, MoveID int64
	// Mailbox is the uid of the move, when it is known.
	Mailbox string
	Detail  string
}

func (a AuditRow) JobLink() string  { return fmt.Sprintf("/jobs/%d", a.JobID) }
func (a AuditRow) MoveLink() string { return fmt.Sprintf("/moves/%d", a.MoveID) }

// MoveText names the move by its user when known.
func (a AuditRow) MoveText() string {
	if a.Mailbox != "" {
		return a.Mailbox
	}
	return fmt.Sprintf("move %d", a.MoveID)
}
