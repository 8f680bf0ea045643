package web

import (
	"github.com/movewizard/movewizard/migrate/model"
)

// CancelConfirm is the page that asks before a cancel (of one mailbox's
// move or of a whole job): a question, what the cancel does, and a form
// that posts it. It works without script. When the cancel is not possible
// any more, Refusal says why and the page offers only Back.
type CancelConfirm struct {
	Question string   // "Cancel the move of alice?"
	Notes    []string // what happens
	Refusal  string   // non-empty: why it cannot be cancelled
	Action   string   // the URL the form posts to
	Fields   []HiddenField
	Back     string // the page the person came from
}

// pastCutoverWhen is the phases in which the Cancel button is hidden,
// whatever the state (live.js reads it from data-unless-phase).
var pastCutoverWhen = model.PastCutoverList()

// cancelShown reports whether a move's Cancel button is shown: it is
// unfinished and before its cut-over.
func cancelShown(m model.Move) bool {
	return jobStateIn(m.State, cancelWhen) && !m.Phase.PastCutover()
}
