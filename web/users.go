package web

import (
	"fmt"
	"strconv"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

// UserSearch is the users page: a search form and, once searched, its
// results.
type UserSearch struct {
	Query    string
	Searched bool
	Results  []UserSearchRow
	// Limit is the most results shown; reaching it means there may be more.
	Limit int
}

// Truncated reports whether the search hit its limit.
func (s UserSearch) Truncated() bool { return s.Limit > 0 && len(s.Results) >= s.Limit }

// UserSearchRow is one user found.
type UserSearchRow struct {
	UID, Name, Mail string
	Link            string // the user page, path-escaped
	Home            UserHome
}

// UserHome is where the directory says a mailbox lives.
type UserHome struct {
	Value  string // the home attribute
	Server string // the registered server whose Home it is; "" when none
}

// Text names the server, or says that the value names none.
func (h UserHome) Text() string {
	switch {
	case h.Server != "":
		return h.Server
	case h.Value == "":
		return "no home attribute"
	default:
		return "not a registered server: " + h.Value
	}
}

// UserStatus is the user page: where the mailbox lives and its moves.
type UserStatus struct {
	UID string
	// InDirectory is false when the directory has no such user (any more).
	InDirectory bool
	// DirectoryFailed: the directory could not be read; the history still shows.
	DirectoryFailed bool
	Name, Mail      string
	Home            UserHome
	// Current is the unfinished move, if any; CurrentStarts says when its
	// job starts, if it waits for its start time (StartsIn).
	Current       *UserMoveRow
	CurrentStarts string
	// CurrentCompletes says, for a staged move, when it completes:
	// "completes 2026-12-12 22:00:00 CET (in 4d 3h)" or "waits for an
	// admin to complete it".
	CurrentCompletes string
	Moves            []UserMoveRow // newest first
}

// UserMoveRow is one move of the user.
type UserMoveRow struct {
	MoveID, JobID         int64
	Created, Finished     time.Time
	From, To              string
	State                 model.MoveState
	Phase                 model.Phase
	Folder                string
	MsgsDone, MsgsTotal   int64
	BytesDone, BytesTotal int64
	Skipped               int
	Error                 string
	Attempt               int
	LastSyncAt            time.Time // a staged move's last sync; zero before it
}

func (m UserMoveRow) MoveLink() string { return fmt.Sprintf("/moves/%d", m.MoveID) }
func (m UserMoveRow) JobLink() string  { return fmt.Sprintf("/jobs/%d", m.JobID) }

// Msgs reads "done / total".
func (m UserMoveRow) Msgs() string { return fmt.Sprintf("%d / %d", m.MsgsDone, m.MsgsTotal) }

// Bytes reads "done / total" (format.Bytes).
func (m UserMoveRow) Bytes() string {
	return format.Bytes(m.BytesDone) + " / " + format.Bytes(m.BytesTotal)
}

// BarMax and BarValue feed a <progress> element; bytes measure progress
// better than messages, whose sizes differ.
func (m UserMoveRow) BarMax() string { return strconv.FormatInt(max(m.BytesTotal, 1), 10) }
func (m UserMoveRow) BarValue() string {
	return strconv.FormatInt(min(m.BytesDone, max(m.BytesTotal, 1)), 10)
}

// userTime is format.Time; the zero time is a dash.
func userTime(t time.Time) string { return userOrDash(format.Time(t)) }

// userOrDash shows a dash for an empty value.
func userOrDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
