package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

// errShortLiteral: a connection dropped inside a FETCH literal reads as a
// short body with no error from go-imap; the mover compares the bytes read
// with the literal's size and reports this instead.
var errShortLiteral = errors.New("connection lost inside a message literal")

// errReconnect asks for fresh connections (go-imap cannot reuse a
// connection after a refused synchronising literal).
var errReconnect = errors.New("connection must be renewed")

// abandonError ends a move as abandoned: the error policy or a condition
// such as an over-quota target says the mailbox cannot be moved now.
type abandonError struct{ reason string }

func (e *abandonError) Error() string { return e.reason }

func abandonf(format string, args ...any) error {
	return &abandonError{reason: fmt.Sprintf(format, args...)}
}

// errCancelled: an admin cancelled the move (or its job's cancel-after
// deadline passed).
var errCancelled = errors.New("move cancelled")

// isThrottle reports whether the server asked us to come back later
// (RFC 5530 UNAVAILABLE, LIMIT, INUSE): retried with back-off.
func isThrottle(err error) bool {
	switch imapCode(err) {
	case imap.ResponseCodeUnavailable, imap.ResponseCodeLimit, imap.ResponseCodeInUse:
		return true
	}
	return false
}

// permanentError marks a failure that retrying cannot fix (a user missing
// from the directory, an unregistered home server, a refused login).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

// isConnLoss reports whether err is a transport failure rather than an
// answer from the server: reset, EOF, a closed connection, a short literal,
// a BYE, or a reply go-imap could not decode (it wraps those with %v, so
// they cannot be told apart by errors.Is; anything that is not an IMAP
// status response and not one of our own verdicts counts). Such failures
// are retried on a fresh connection and never count as bad items.
//
// A failure of the local job store (db.IsStoreError: a full disk, a locked
// or closed database) is not one: no connection is involved, and a move
// that cannot record its checkpoints must stop, not retry.
func isConnLoss(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if db.IsStoreError(err) {
		return false
	}
	var ae *abandonError
	var pe *permanentError
	if errors.As(err, &ae) || errors.As(err, &pe) || errors.Is(err, errCancelled) {
		return false
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		// A BYE is an IMAP error too, but it means the server hung up.
		return ie.Type == imap.StatusResponseTypeBye
	}
	return true
}

// isTransient reports whether the move should wait and try again.
func isTransient(err error) bool { return isConnLoss(err) || isThrottle(err) }

// isNo reports whether the server answered NO (or BAD) to a command.
func isNo(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Type != imap.StatusResponseTypeBye
}
