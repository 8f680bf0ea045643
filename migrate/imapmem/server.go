// Package imapmem is an in-process IMAP server with fault injection, built on
// go-imap's imapserver. The demo command runs it seeded with demo mailboxes,
// and the mover's fast tests use it to provoke the failures a real server
// produces: unreadable messages, connections dropped inside a FETCH literal,
// hung sessions, refused APPENDs, throttled logins, full quotas.
//
// Invariants:
//   - Close stops the listeners, closes every connection, releases hung
//     sessions and returns only when every goroutine the server started ended.
//   - Faults can be changed at any time from any goroutine; a change applies
//     to the next command that consults it.
//   - The admin credential authenticates as any user, either through SASL
//     PLAIN with an authorization identity or as Dovecot's "user*admin" LOGIN.
//   - Mailbox names are stored decoded (UTF-8); imapserver does the modified
//     UTF-7 conversion on the wire.
package imapmem

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// ErrNotFound is returned by the seeding and inspection methods for an unknown
// user or mailbox.
var ErrNotFound = errors.New("not found")

// Options configures a Server.
type Options struct {
	// AdminUser and AdminPassword form the admin (master) credential; empty
	// AdminUser disables admin logins.
	AdminUser, AdminPassword string
	// Logger receives server-side errors; nil discards them.
	Logger *slog.Logger
	// Delimiter is the hierarchy delimiter; zero means '/' (imapmemserver's,
	// and Dovecot's with the fs layout). Use '.' to look like Dovecot's
	// maildir layout or Cyrus.
	Delimiter rune
	// NoStatusSize leaves STATUS=SIZE (RFC 8438) out of the capabilities,
	// like servers that cannot tell a mailbox's size without a FETCH.
	NoStatusSize bool
	// Pace limits each connection to this many bytes per second in each
	// direction (0: as fast as it goes). The demo sets it so that a move
	// takes long enough to watch.
	Pace int64
}

// Server is an in-memory IMAP server. The zero value is not usable; call New.
type Server struct {
	opts   Options
	delim  rune
	log    *slog.Logger
	faults *Faults
	imap   *imapserver.Server
	done   chan struct{} // closed by Close: releases hung sessions

	wg sync.WaitGroup // listener goroutines and connections

	mu        sync.Mutex
	users     map[string]*user
	listeners []net.Listener
	conns     map[*faultConn]struct{}
	closed    bool
}

// New returns a server with no users; add them with AddUser and start it with
// Listen.
func New(opts Options) *Server {
	s := &Server{
		opts:   opts,
		delim:  opts.Delimiter,
		log:    opts.Logger,
		faults: newFaults(),
		done:   make(chan struct{}),
		users:  make(map[string]*user),
		conns:  make(map[*faultConn]struct{}),
	}
	if s.delim == 0 {
		s.delim = '/'
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	caps := imap.CapSet{
		imap.CapIMAP4rev1:        {},
		imap.CapNamespace:        {},
		imap.CapUIDPlus:          {},
		imap.CapListExtended:     {},
		imap.CapListStatus:       {},
		imap.CapMove:             {},
		imap.CapStatusSize:       {},
		imap.CapChildren:         {},
		imap.CapSpecialUse:       {},
		imap.CapCreateSpecialUse: {},
		imap.CapLiteralPlus:      {},
	}
	if opts.NoStatusSize {
		delete(caps, imap.CapStatusSize)
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.newSession(c), nil, nil
		},
		Caps:   caps,
		Logger: printfLogger{s.log},
		// Loopback test and demo server: plain-text auth without TLS is the
		// point, there is no network to protect.
		InsecureAuth: true,
	})
	return s
}

// Faults returns the fault injection controls of s.
func (s *Server) Faults() *Faults { return s.faults }

// Listen starts serving on addr (for example "127.0.0.1:0") and returns the
// address actually listened on.
func (s *Server) Listen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s: %w", addr, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errors.Join(errors.New("listen: server closed"), ln.Close())
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if err := s.imap.Serve(&listener{Listener: ln, srv: s}); err != nil {
			s.log.Error("imap serve", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Close stops listening, closes all connections, releases hung sessions and
// waits for every goroutine of the server. Later calls return nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	listeners := s.listeners
	conns := make([]*faultConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var errs []error
	for _, ln := range listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close listener: %w", err))
		}
	}
	for _, c := range conns {
		if err := c.closeNet(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close connection: %w", err))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// listener wraps accepted connections in faultConn and accounts them in
// Server.wg before imapserver starts their goroutine, so that Close can wait
// for connections it has not seen yet.
type listener struct {
	net.Listener
	srv *Server
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if rate := l.srv.opts.Pace; rate > 0 {
		nc = &pacedConn{Conn: nc, rate: float64(rate), done: l.srv.done}
	}
	c := newFaultConn(nc, l.srv)
	l.srv.wg.Add(1) // Done in faultConn.Close once the session ended
	l.srv.mu.Lock()
	closed := l.srv.closed
	if !closed {
		l.srv.conns[c] = struct{}{}
	}
	l.srv.mu.Unlock()
	if closed {
		// imapserver still runs the connection: it fails on the first write.
		if err := c.closeNet(); err != nil {
			l.srv.log.Warn("close connection accepted during shutdown", "err", err)
		}
	}
	return c, nil
}

// connEnded is called once per accepted connection, as the very last thing
// its goroutine does.
func (s *Server) connEnded(c *faultConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// user returns the named user.
func (s *Server) user(name string) (*user, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return u, nil
}

// printfLogger adapts slog to imapserver's Printf logger. imapserver logs
// only errors, never wire traces, so no credential reaches the log.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, args ...any) {
	l.log.Warn("imap server", "detail", fmt.Sprintf(format, args...))
}
