package migrate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"time"

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

// gaveUpError: a transient failure (a lost connection, a throttling server)
// that went on for longer than the mover's patience.
type gaveUpError struct {
	after time.Duration
	err   error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("gave up after %s of retries: %v", e.after, e.err)
}
func (e *gaveUpError) Unwrap() error { return e.err }

// failureText is what a failed move records and shows to people (the move
// and job pages, the report, helpdesk): a sentence that says which kind of
// failure it was, then the essential detail, with Go's transport wording
// ("write tcp 127.0.0.1:5->127.0.0.1:6: use of closed network
// connection") put in words. The raw error goes to the log.
func failureText(err error) string {
	var gu *gaveUpError
	var pe *permanentError
	switch {
	case errors.As(err, &gu):
		if isThrottle(gu.err) {
			return fmt.Sprintf("Gave up after %s of the mail server asking to wait; its last answer: %s",
				gu.after, plainDetail(gu.err))
		}
		return fmt.Sprintf("Gave up after %s of lost connections to the mail servers; the last failure: %s",
			gu.after, plainDetail(gu.err))
	case errors.As(err, &pe):
		return "Cannot continue: " + plainDetail(pe.err)
	case isNo(err):
		return "A mail server refused a request: " + plainDetail(err)
	case isConnLoss(err):
		return "Lost the connection to a mail server: " + plainDetail(err)
	}
	return "The move failed: " + plainDetail(err)
}

// plainDetail is err's text with the transport part put in words: the
// innermost error of a known kind by its type, and what go-imap formatted
// with %v (so that its type is lost) by its wording.
func plainDetail(err error) string {
	text := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		words, ok := plainCause(e)
		if !ok {
			continue
		}
		if inner := e.Error(); strings.HasSuffix(text, inner) {
			text = strings.TrimSuffix(text, inner) + words
			break
		}
	}
	for _, r := range transportWording {
		text = r.re.ReplaceAllString(text, r.with)
	}
	return text
}

// plainCause puts an error of a known transport or protocol kind in words.
// It looks at err itself, not at what err wraps: plainDetail walks the
// chain.
func plainCause(err error) (string, bool) {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "the server closed the connection", true
	}
	if err == net.ErrClosed {
		return "the connection was closed", true
	}
	switch e := err.(type) {
	case *imap.Error:
		if e.Type == imap.StatusResponseTypeBye {
			return "the server ended the session (" + orUnknown(e.Text) + ")", true
		}
		answer := string(e.Type)
		if e.Code != "" {
			answer += " [" + string(e.Code) + "]"
		}
		return "the server answered " + answer + ": " + orUnknown(e.Text), true
	case *tls.CertificateVerificationError:
		return "the server's TLS certificate is not trusted (" + strings.TrimPrefix(e.Err.Error(), "x509: ") + ")", true
	case tls.RecordHeaderError:
		return "the server does not speak TLS on this port", true
	case *net.DNSError:
		return "the host name " + e.Name + " cannot be resolved", true
	case *net.OpError:
		why := "it failed"
		var errno syscall.Errno
		var dns *net.DNSError
		switch {
		case errors.As(e.Err, &dns):
			why = "the host name " + dns.Name + " cannot be resolved"
		case e.Timeout():
			why = "timed out"
		case errors.As(e.Err, &errno):
			why = errno.Error()
		case errors.Is(e.Err, net.ErrClosed):
			why = "the connection was closed"
		case errors.Is(e.Err, io.EOF):
			why = "the server closed the connection"
		}
		if e.Op == "dial" {
			return "cannot connect: " + why, true
		}
		return "the connection broke: " + why, true
	}
	return "", false
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// transportWording rewrites Go's transport wording where it survives only
// as text (go-imap wraps its read errors with %v).
var transportWording = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`: (?:read|write|connect): (connection (?:refused|reset by peer)|broken pipe)`), ": $1"},
	{regexp.MustCompile(`: (?:read|write|connect): (use of closed network connection|i/o timeout)`), ": $1"},
	{regexp.MustCompile(`\b(?:read|write) (?:tcp|tcp4|tcp6|unix) \S+?: `), "the connection broke: "},
	{regexp.MustCompile(`\bdial (?:tcp|tcp4|tcp6|unix) \S+?: `), "cannot connect: "},
	{regexp.MustCompile(`\bin (?:response|[a-z]+(?:-[a-z]+)+): `), ""},
	{regexp.MustCompile(`\buse of closed network connection`), "the connection was closed"},
	{regexp.MustCompile(`\bi/o timeout`), "timed out"},
	{regexp.MustCompile(`\b(?:unexpected )?EOF$`), "the server closed the connection"},
	{regexp.MustCompile(`\bimap: (NO|BAD|BYE) `), "the server answered $1: "},
}
