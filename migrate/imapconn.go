package migrate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/movewizard/movewizard/migrate/config"
)

// conn is one IMAP connection logged in as a user through the server's
// admin credential.
type conn struct {
	c      *imapclient.Client
	server config.Server
	user   string
	caps   imap.CapSet
	h      Hierarchy
	// others are the prefixes of other users' and shared namespaces,
	// which a LIST "" "*" may include and a move must not copy.
	others []string
	// stop detaches the context watcher; see dial.
	stop func() bool
}

// dial connects to s and logs in as user with the admin credential.
//
// go-imap v2 has no context support and a silent server blocks Wait
// forever, so the client is closed from context.AfterFunc: every pending
// command then fails and the caller sees ctx.Err().
func dial(ctx context.Context, s config.Server, user string) (*conn, error) {
	return dialConn(ctx, s, user, true)
}

// dialConn is dial; with closeOnCancel false, ctx guards only the connect
// and the login, and the caller decides when the connection ends (a move
// lets answers to commands already sent arrive after a stop; see drain).
func dialConn(ctx context.Context, s config.Server, user string, closeOnCancel bool) (*conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", s.Name, s.Address, err)
	}
	host, _, _ := net.SplitHostPort(s.Address)
	tlsConfig := &tls.Config{ServerName: host, InsecureSkipVerify: s.TLSSkipVerify}
	opts := &imapclient.Options{TLSConfig: tlsConfig}
	var c *imapclient.Client
	switch s.TLS {
	case config.TLSImplicit:
		tc := tls.Client(nc, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls to %s: %w", s.Name, err)
		}
		c = imapclient.New(tc, opts)
	case config.TLSStartTLS:
		stop := context.AfterFunc(ctx, func() { nc.Close() })
		c, err = imapclient.NewStartTLS(nc, opts)
		stop()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("starttls to %s: %w", s.Name, ctxErr(ctx, err))
		}
	default:
		c = imapclient.New(nc, opts)
	}
	cn := &conn{c: c, server: s, user: user}
	cn.stop = context.AfterFunc(ctx, func() { c.Close() })
	if err := cn.login(); err != nil {
		cn.Close()
		return nil, ctxErr(ctx, err)
	}
	if err := cn.discover(); err != nil {
		cn.Close()
		return nil, ctxErr(ctx, err)
	}
	if !closeOnCancel && !cn.stop() {
		// ctx ended during the login: the watcher has closed (or is
		// closing) the client.
		cn.c.Close()
		return nil, ctx.Err()
	}
	return cn, nil
}

func (cn *conn) login() error {
	if err := cn.c.WaitGreeting(); err != nil {
		return fmt.Errorf("greeting from %s: %w", cn.server.Name, err)
	}
	var err error
	switch cn.server.Login {
	case config.LoginMasterUser:
		// Dovecot master user: "user*admin" with the admin's password.
		err = cn.c.Login(cn.user+"*"+cn.server.AdminUser, cn.server.AdminPassword).Wait()
	default:
		// RFC 4616: authorization identity = the user, authentication
		// identity = the admin.
		err = cn.c.Authenticate(sasl.NewPlainClient(cn.user, cn.server.AdminUser, cn.server.AdminPassword))
	}
	if err != nil {
		return fmt.Errorf("log in to %s as %q via admin %q: %w", cn.server.Name, cn.user, cn.server.AdminUser, err)
	}
	return nil
}

// discover reads capabilities and the personal namespace (RFC 2342), falling
// back to LIST "" "" for the delimiter (RFC 3501 §6.3.8).
func (cn *conn) discover() error {
	caps, err := cn.c.Capability().Wait()
	if err != nil {
		return fmt.Errorf("capability of %s: %w", cn.server.Name, err)
	}
	cn.caps = caps
	if caps.Has(imap.CapNamespace) {
		ns, err := cn.c.Namespace().Wait()
		if err != nil {
			return fmt.Errorf("namespace of %s: %w", cn.server.Name, err)
		}
		for _, d := range append(ns.Other, ns.Shared...) {
			if d.Prefix != "" {
				cn.others = append(cn.others, d.Prefix)
			}
		}
		if len(ns.Personal) > 0 {
			cn.h = Hierarchy{Delim: ns.Personal[0].Delim, Prefix: ns.Personal[0].Prefix}
			return nil
		}
	}
	boxes, err := cn.c.List("", "", nil).Collect()
	if err != nil {
		return fmt.Errorf("list delimiter of %s: %w", cn.server.Name, err)
	}
	if len(boxes) > 0 {
		cn.h.Delim = boxes[0].Delim
	}
	return nil
}

// logoutWait bounds how long Close waits for the answer to LOGOUT.
const logoutWait = 2 * time.Second

// Close sends LOGOUT (RFC 3501 §6.1.3), waits a short while for its answer,
// and always closes. A connection that already ended gets no LOGOUT; a
// silent server, or an encoder still held by a command cut in half, costs
// at most logoutWait (the LOGOUT then stays behind in its goroutine until
// the close fails it).
func (cn *conn) Close() {
	if cn == nil {
		return
	}
	cn.stop()
	select {
	case <-cn.c.Closed():
	default:
		answered := make(chan struct{})
		go func() {
			// The answer does not matter: the connection is closed either way.
			_ = cn.c.Logout().Wait()
			close(answered)
		}()
		select {
		case <-answered:
		case <-cn.c.Closed():
		case <-time.After(logoutWait):
		}
	}
	cn.c.Close()
}

// abort closes the connection without LOGOUT: after a command was cut in
// half (a literal not completed) the server must see the connection end.
func (cn *conn) abort() {
	if cn == nil {
		return
	}
	cn.stop()
	cn.c.Close()
}

// ctxErr prefers the context's error: a client closed by AfterFunc reports
// a confusing "use of closed connection" otherwise.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && err != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// imapCode returns the response code of an IMAP NO/BAD, or "".
func imapCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

// CheckServer logs in to s as user through the admin credential, the way a
// move does, and logs out.
func CheckServer(ctx context.Context, s config.Server, user string) error {
	c, err := dial(ctx, s, user)
	if err != nil {
		return err
	}
	defer c.abort()
	return c.c.Logout().Wait()
}
