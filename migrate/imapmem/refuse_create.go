package imapmem

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// RefuseCreate makes CREATE of a name holding any character of chars fail
// with "NO Invalid mailbox name" (no response code), as Cyrus answers for
// < > % ; \ / { } | " and ! in a level. The server's delimiter in chars is
// ignored: it separates levels. An empty chars removes the refusal.
func (f *Faults) RefuseCreate(chars string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuseCreate = chars
}

// createAttempt returns the refusal of a CREATE of name, if any.
func (f *Faults) createAttempt(name string, delim rune) error {
	f.mu.Lock()
	chars := f.refuseCreate
	f.mu.Unlock()
	if chars == "" {
		return nil
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r != delim && strings.ContainsRune(chars, r) }) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Invalid mailbox name"}
	}
	return nil
}
