package migrate

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
)

// ErrRefused says that a server answered but will not serve: its greeting is
// BYE (RFC 9051 section 7.1.5) or no IMAP greeting at all.
var ErrRefused = errors.New("refused")

// reachTimeout bounds a reachability check whose context has no deadline, so
// that a silent server cannot hang the servers page.
const reachTimeout = 10 * time.Second

// maxGreeting bounds how much of a greeting line is read: a server that sends
// an endless line must not fill memory.
const maxGreeting = 4096

// Reachable connects to s and reads its IMAP greeting without logging in. It
// returns nil when the greeting is OK or PREAUTH; an error wrapping
// ErrRefused for BYE or a non-IMAP answer; ctx's error when ctx ended first.
func Reachable(ctx context.Context, s config.Server) error {
	_, err := Greeting(ctx, s)
	return err
}

// Greeting is Reachable that also returns the greeting line (without CRLF),
// for the servers page to show which software answered. A refusing server's
// line is returned together with the error, since it says why.
//
// With implicit TLS the handshake comes first, honouring TLSSkipVerify; with
// STARTTLS the plain-text greeting is enough to know the server is there.
func Greeting(ctx context.Context, s config.Server) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, reachTimeout)
		defer cancel()
	}
	line, err := readGreeting(ctx, s)
	if err != nil {
		return line, fmt.Errorf("reach %s (%s): %w", s.Name, s.Address, err)
	}
	return line, nil
}

func readGreeting(ctx context.Context, s config.Server) (string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	// A read has no context: when ctx ends, an expired deadline wakes it, and
	// the error is then reported as ctx's.
	stop := context.AfterFunc(ctx, func() {
		// Only fails on a closed connection, which wakes the read as well.
		_ = nc.SetDeadline(time.Unix(1, 0))
	})
	defer func() {
		stop()
		// Nothing was sent that closing could lose.
		_ = nc.Close()
	}()
	var c net.Conn = nc
	if s.TLS == config.TLSImplicit {
		host, _, err := net.SplitHostPort(s.Address)
		if err != nil {
			return "", fmt.Errorf("address: %w", err)
		}
		tc := tls.Client(nc, &tls.Config{ServerName: host, InsecureSkipVerify: s.TLSSkipVerify})
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", fmt.Errorf("tls handshake: %w", ctxOr(ctx, err))
		}
		c = tc
	}
	r := bufio.NewReaderSize(c, maxGreeting)
	line, err := r.ReadSlice('\n')
	if err != nil && !(errors.Is(err, bufio.ErrBufferFull) && len(line) > 0) {
		return "", fmt.Errorf("read greeting: %w", ctxOr(ctx, err))
	}
	greeting := strings.TrimRight(string(line), "\r\n")
	upper := strings.ToUpper(greeting)
	switch {
	case strings.HasPrefix(upper, "* OK"), strings.HasPrefix(upper, "* PREAUTH"):
		return greeting, nil
	case strings.HasPrefix(upper, "* BYE"):
		return greeting, fmt.Errorf("greeting %q: %w", greeting, ErrRefused)
	default:
		return greeting, fmt.Errorf("not an IMAP greeting %q: %w", greeting, ErrRefused)
	}
}

// ctxOr reports ctx's error in place of err when ctx has ended, since then
// err is only the symptom of waking a read or handshake.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}
