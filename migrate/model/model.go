// Package model holds the values a mailbox move is made of: jobs and moves,
// their states and phases, error policies and sign-in roles. The engine, the
// runner, the progress broker and the pages depend on these; the db package
// stores and loads them. It depends on nothing of this module.
package model

import (
	"strings"
	"time"
)

// MoveState is where a move stands. Queued and running are open (work is
// left); the rest are outcomes.
type MoveState string

// Move states.
const (
	MoveQueued    MoveState = "queued"
	MoveRunning   MoveState = "running"
	MoveDone      MoveState = "done"
	MoveFailed    MoveState = "failed"
	MoveAbandoned MoveState = "abandoned"
	MoveCancelled MoveState = "cancelled"
	// MoveAlreadyThere: the user already lived on the target; nothing done.
	MoveAlreadyThere MoveState = "already-there"
	// MoveSynced: a move of a staged job copied the whole mailbox and waits,
	// re-syncing now and then, until it is completed; the directory and
	// the source are untouched.
	MoveSynced MoveState = "synced"
)

// OpenMoveStates lists the states of a move that still has work to do. It is
// the one list: SQL filters (db), the runner and the pages derive from it.
var OpenMoveStates = []MoveState{MoveQueued, MoveRunning, MoveSynced}

// Label is the state as pages show it: "synced, waiting to complete".
func (s MoveState) Label() string {
	if s == MoveSynced {
		return "synced, waiting to complete"
	}
	return string(s)
}

// Open reports whether a move in state s still has work to do.
func (s MoveState) Open() bool {
	for _, o := range OpenMoveStates {
		if s == o {
			return true
		}
	}
	return false
}

// OpenStatesList is OpenMoveStates joined by spaces, as the pages carry it
// in data attributes for live.js ("queued running").
func OpenStatesList() string {
	parts := make([]string, len(OpenMoveStates))
	for i, s := range OpenMoveStates {
		parts[i] = string(s)
	}
	return strings.Join(parts, " ")
}

// Phase is the step of a move; a resumed move continues from its phase.
type Phase string

// Move phases, in order.
const (
	PhasePreflight Phase = "preflight"
	PhaseHierarchy Phase = "hierarchy"
	PhaseCopy      Phase = "copy"
	PhaseVerify    Phase = "verify"
	// PhaseResync: a staged move syncs again (new folders and mail, flags,
	// deletions), then waits again or, when completion was asked for, takes
	// its cut-over.
	PhaseResync  Phase = "resync"
	PhaseCutover Phase = "cutover"
	PhaseDelta   Phase = "delta"
	PhaseRemove  Phase = "remove"
	PhaseCleanup Phase = "cleanup"
	PhaseDone    Phase = "done"
)

// PastCutoverPhases are the phases of a move past its point of no return:
// the mover took the cut-over in the job store (db.DB.TakeCutover) before it
// changed the directory, so the directory names the target or is about to.
// Such a move is never cancelled; it finishes. It is the one list: db's SQL
// and the pages' data-unless-phase derive from it.
var PastCutoverPhases = []Phase{PhaseCutover, PhaseDelta, PhaseRemove, PhaseDone}

// PastCutover reports whether a move in phase p is past its cut-over.
func (p Phase) PastCutover() bool {
	for _, q := range PastCutoverPhases {
		if p == q {
			return true
		}
	}
	return false
}

// PastCutoverList is PastCutoverPhases joined by spaces, as the pages carry
// it in data attributes for live.js ("cutover delta remove done").
func PastCutoverList() string {
	parts := make([]string, len(PastCutoverPhases))
	for i, p := range PastCutoverPhases {
		parts[i] = string(p)
	}
	return strings.Join(parts, " ")
}

// JobState is where a job stands.
type JobState string

// Job states. Queued and running are open; the rest are outcomes, decided
// when the last move of the job has one.
const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	// JobDone: every mailbox moved (or was already there), nothing skipped.
	JobDone JobState = "done"
	// JobDoneWithErrors: some mailboxes moved, but others failed, were
	// abandoned or cancelled, or items were skipped.
	JobDoneWithErrors JobState = "completed-with-errors"
	// JobFailed: no mailbox moved.
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// JobStates lists every job state, open ones first, in the order the jobs
// list offers them as filters.
var JobStates = []JobState{JobQueued, JobRunning, JobDone, JobDoneWithErrors, JobFailed, JobCancelled}

// Open reports whether a job in state s still has work to do.
func (s JobState) Open() bool { return s == JobQueued || s == JobRunning }

// Label is the state as pages show it: "completed with errors".
func (s JobState) Label() string { return strings.ReplaceAll(string(s), "-", " ") }

// Policy says what a move does with a message it cannot copy, as in the
// Exchange 2003 wizard.
type Policy string

// Error policies.
const (
	PolicyAbandon Policy = "abandon" // the first bad message abandons the move
	PolicySkip    Policy = "skip"    // skip up to MaxBad bad messages, then abandon
)

// Role is what a signed-in person may do in the web UI.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"    // may do everything
	RoleHelpdesk Role = "helpdesk" // may only read
)

// Job is a batch of moves to one target.
type Job struct {
	ID               int64
	CreatedAt        time.Time
	CreatedBy        string
	Target           string
	Policy           Policy
	MaxBad           int
	Parallel         int
	KeepSource       bool
	StartAt          time.Time
	CancelAfterHours int
	State            JobState
	StartedAt        time.Time
	FinishedAt       time.Time
	// NotifyEmails are the addresses told by e-mail when the job finishes
	// or one of its mailboxes fails or is abandoned, joined by "," ("" for
	// none; a string keeps Job comparable); NotifyWebhook calls the
	// configured webhooks for the same events.
	NotifyEmails  string
	NotifyWebhook bool
	// Stage: sync, then wait. Each move copies the whole mailbox and waits
	// as MoveSynced, re-syncing, until it is completed (Move.CompleteRequested,
	// or CompleteAt when set).
	Stage      bool
	CompleteAt time.Time
}

// NotifyRecipients returns NotifyEmails as a list.
func (j Job) NotifyRecipients() []string {
	if j.NotifyEmails == "" {
		return nil
	}
	return strings.Split(j.NotifyEmails, ",")
}

// Move is one user's mailbox move within a job.
type Move struct {
	ID, JobID        int64
	UID, UserDN      string
	Source, Target   string
	State            MoveState
	Phase            Phase
	CurrentFolder    string
	MsgsTotal        int64
	MsgsDone         int64
	BytesTotal       int64
	BytesDone        int64
	Skipped          int
	Error            string
	DirectoryUpdated time.Time
	SourceRemoved    time.Time
	CreatedAt        time.Time
	StartedAt        time.Time
	FinishedAt       time.Time
	CancelRequested  bool
	Attempt          int
	// A staged move's syncs: when the last one ended and how many ran;
	// CompleteRequested asks it to complete (last sync, cut-over, delta).
	LastSyncAt        time.Time
	Syncs             int
	CompleteRequested bool
	// DeltaDoneAt is when the final delta pass after the cut-over ended;
	// with DirectoryUpdated it makes the cut-over window.
	DeltaDoneAt time.Time
}

// CutoverWindow is how long the move was between homes: from the directory
// update to the end of the final delta pass (0 until both happened).
func (m Move) CutoverWindow() time.Duration {
	if m.DirectoryUpdated.IsZero() || m.DeltaDoneAt.IsZero() || m.DeltaDoneAt.Before(m.DirectoryUpdated) {
		return 0
	}
	return m.DeltaDoneAt.Sub(m.DirectoryUpdated)
}

// Unfinished reports whether the move still has work to do.
func (m Move) Unfinished() bool { return m.State.Open() }

// Event is one entry of a move's (or a job's, with MoveID 0) history.
type Event struct {
	ID, JobID, MoveID int64
	At                time.Time
	Kind, Message     string
}

// SkippedItem is a message a move could not copy and skipped by its policy.
type SkippedItem struct {
	ID        int64
	MoveID    int64
	Folder    string
	UID       uint32
	MessageID string
	Subject   string
	Date      time.Time
	Size      int64
	Error     string
	At        time.Time
}
