package testenv

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
)

// SMTPSink is a small SMTP server for tests of notifications, on
// 127.0.0.1:0: it speaks EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP and QUIT (RFC 5321), without STARTTLS, and keeps every message it
// accepted. It can refuse recipients for good (550) and fail a number of
// transactions for now (451 to MAIL).
type SMTPSink struct {
	Addr string // host:port

	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	got  []SinkMail
	cond *sync.Cond
	// Guarded by mu:
	failNext int
	refuse   map[string]bool
	user     string
	password string
	conns    map[net.Conn]bool
}

// SinkMail is one message the sink accepted.
type SinkMail struct {
	From     string
	To       []string
	AuthUser string // "" when the client did not authenticate
	Data     []byte // as sent, dot-unstuffed, CRLF line ends
}

// Header parses the message's header.
func (m SinkMail) Header(t testing.TB) mail.Header {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("the sink's message does not parse: %v\n%s", err, m.Data)
	}
	return msg.Header
}

// Subject is the decoded Subject header.
func (m SinkMail) Subject(t testing.TB) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header(t).Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", m.Header(t).Get("Subject"), err)
	}
	return s
}

// Body is the decoded body (quoted-printable or as sent), "\n" line ends.
func (m SinkMail) Body(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("the sink's message does not parse: %v", err)
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// StartSMTPSink starts a sink; it stops in t.Cleanup. With a user, the
// sink offers AUTH PLAIN and requires it before MAIL.
func StartSMTPSink(t testing.TB, user, password string) *SMTPSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("SMTP sink: %v", err)
	}
	s := &SMTPSink{Addr: ln.Addr().String(), ln: ln, refuse: map[string]bool{}, user: user, password: password,
		conns: map[net.Conn]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Close stops the sink and waits for its connections to end.
func (s *SMTPSink) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// FailNext makes the next n transactions fail with 451 at MAIL.
func (s *SMTPSink) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Refuse makes the sink refuse addr as a recipient with 550.
func (s *SMTPSink) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[strings.ToLower(addr)] = true
}

// Mails returns the messages accepted so far.
func (s *SMTPSink) Mails() []SinkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMail(nil), s.got...)
}

// WaitMails blocks until the sink accepted n messages or done is closed,
// and returns what it has.
func (s *SMTPSink) WaitMails(n int, done <-chan struct{}) []SinkMail {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
		case <-stop:
		}
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.got) < n {
		select {
		case <-done:
			return append([]SinkMail(nil), s.got...)
		default:
		}
		s.cond.Wait()
	}
	return append([]SinkMail(nil), s.got...)
}

func (s *SMTPSink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *SMTPSink) session(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(format string, args ...any) bool {
		fmt.Fprintf(w, format+"\r\n", args...)
		return w.Flush() == nil
	}
	if !reply("220 sink.test ESMTP test sink") {
		return
	}
	var cur SinkMail
	authUser := ""
	inTx := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			s.mu.Lock()
			auth := s.user != ""
			s.mu.Unlock()
			if auth {
				fmt.Fprintf(w, "250-sink.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
				w.Flush()
			} else if !reply("250-sink.test\r\n250 8BITMIME") {
				return
			}
		case "HELO":
			reply("250 sink.test")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") || resp == "" {
				reply("504 only AUTH PLAIN with an initial response")
				continue
			}
			dec, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(dec), "\x00")
			s.mu.Lock()
			ok := err == nil && len(parts) == 3 && parts[1] == s.user && parts[2] == s.password
			s.mu.Unlock()
			if !ok {
				reply("535 authentication failed")
				continue
			}
			authUser = parts[1]
			reply("235 authenticated")
		case "MAIL":
			s.mu.Lock()
			needAuth := s.user != "" && authUser == ""
			fail := s.failNext > 0
			if fail {
				s.failNext--
			}
			s.mu.Unlock()
			switch {
			case needAuth:
				reply("530 authentication required")
			case fail:
				reply("451 try again later")
			case !strings.HasPrefix(strings.ToUpper(arg), "FROM:"):
				reply("501 MAIL FROM:<address>")
			default:
				cur, inTx = SinkMail{From: angle(arg[5:]), AuthUser: authUser}, true
				reply("250 ok")
			}
		case "RCPT":
			if !inTx {
				reply("503 MAIL first")
				continue
			}
			if !strings.HasPrefix(strings.ToUpper(arg), "TO:") {
				reply("501 RCPT TO:<address>")
				continue
			}
			to := angle(arg[3:])
			s.mu.Lock()
			refused := s.refuse[strings.ToLower(to)]
			s.mu.Unlock()
			if refused {
				reply("550 no such user here")
				continue
			}
			cur.To = append(cur.To, to)
			reply("250 ok")
		case "DATA":
			if !inTx || len(cur.To) == 0 {
				reply("503 no valid recipients")
				continue
			}
			if !reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // RFC 5321 4.5.2
			}
			cur.Data = []byte(data.String())
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.cond.Broadcast()
			s.mu.Unlock()
			cur, inTx = SinkMail{}, false
			reply("250 queued")
		case "RSET":
			cur, inTx = SinkMail{}, false
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// angle reads "<a@b>" (and any parameters after it) as a@b.
func angle(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '>'); strings.HasPrefix(s, "<") && i > 0 {
		return s[1:i]
	}
	return s
}
