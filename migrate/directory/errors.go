package directory

import "errors"

// Error kinds that callers branch on with errors.Is; the wrapping error says what was
// missing or in conflict.
var (
	// ErrNotFound: the user, entry or group does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the state changed under us, e.g. the home attribute no longer holds
	// the value a move started from.
	ErrConflict = errors.New("conflict")
)
