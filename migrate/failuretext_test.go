package migrate

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// goNoise is wording of Go's transport errors that a failed move must not
// show to people.
var goNoise = []string{"tcp ", "127.0.0.1:", "use of closed network connection", "i/o timeout",
	"imap: ", "in response:", "EOF"}

func TestFailureText(t *testing.T) {
	closedWrite := &net.OpError{Op: "write", Net: "tcp",
		Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		Addr:   &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 143}, Err: net.ErrClosed}
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1},
		Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{{
		name: "connection lost for longer than the patience",
		err:  &gaveUpError{after: 15 * time.Minute, err: fmt.Errorf("append to %q on dst: %w", "INBOX", closedWrite)},
		want: `Gave up after 15m0s of lost connections to the mail servers; the last failure: append to "INBOX" on dst: the connection broke: the connection was closed`,
	}, {
		name: "server never reachable",
		err:  &gaveUpError{after: time.Minute, err: fmt.Errorf("connect to src (127.0.0.1:1): %w", refused)},
		want: "Gave up after 1m0s of lost connections to the mail servers; the last failure: connect to src (127.0.0.1:1): cannot connect: connection refused",
	}, {
		name: "go-imap read error formatted with %v",
		err: &gaveUpError{after: time.Minute, err: fmt.Errorf("fetch from %q: %w", "INBOX",
			fmt.Errorf("in response: %v", fmt.Errorf("read tcp 127.0.0.1:40000->127.0.0.1:143: %w", syscall.ECONNRESET)))},
		want: `Gave up after 1m0s of lost connections to the mail servers; the last failure: fetch from "INBOX": the connection broke: connection reset by peer`,
	}, {
		name: "short read",
		err:  &gaveUpError{after: time.Minute, err: fmt.Errorf("fetch from %q: %w", "INBOX", io.ErrUnexpectedEOF)},
		want: `Gave up after 1m0s of lost connections to the mail servers; the last failure: fetch from "INBOX": the server closed the connection`,
	}, {
		name: "throttled for longer than the patience",
		err: &gaveUpError{after: time.Minute, err: fmt.Errorf("select %q: %w", "INBOX",
			&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Try later"})},
		want: `Gave up after 1m0s of the mail server asking to wait; its last answer: select "INBOX": the server answered NO [UNAVAILABLE]: Try later`,
	}, {
		name: "server refused",
		err: fmt.Errorf("create %q on dst: %w", "Archive",
			&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded"}),
		want: `A mail server refused a request: create "Archive" on dst: the server answered NO [OVERQUOTA]: Quota exceeded`,
	}, {
		name: "permanent",
		err:  permanent(fmt.Errorf("user %q is not in the directory", "bob")),
		want: `Cannot continue: user "bob" is not in the directory`,
	}, {
		name: "cleanup after a cancel failed",
		err: permanent(fmt.Errorf("%s (%s), but removing the partial copy from the target failed: %w", "cancelled", "cancelled",
			fmt.Errorf("delete %q: %w", "Archive", errors.Join(closedWrite)))),
		want: `Cannot continue: cancelled (cancelled), but removing the partial copy from the target failed: delete "Archive": the connection broke: the connection was closed`,
	}, {
		name: "tcp text in a verdict of ours",
		err:  fmt.Errorf("log in to dst: %v", fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused")),
		want: "Lost the connection to a mail server: log in to dst: cannot connect: connection refused",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := failureText(tc.err)
			if got != tc.want {
				t.Errorf("failureText(%q) =\n  %q\nwant\n  %q", tc.err, got, tc.want)
			}
			for _, n := range goNoise {
				if strings.Contains(got, n) && !strings.Contains(tc.want, n) {
					t.Errorf("failureText(%q) = %q, contains %q", tc.err, got, n)
				}
			}
		})
	}
}
