package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
)

// permanentError is a failure that retrying cannot mend (the relay refused
// a recipient for good); the sender gives up at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// sendMail sends p as a plain-text message through the relay to every
// address in to. The whole conversation has s.Timeout. A recipient the
// relay refuses with a 5xx answer is not retried: the others get the
// message and the error names the refused ones.
func sendMail(ctx context.Context, s config.SMTP, to []string, p Payload) error {
	msg, err := composeMail(s.From, to, p)
	if err != nil {
		return &permanentError{err}
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return &permanentError{fmt.Errorf("relay address %q: %w", s.Address, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return fmt.Errorf("connect to the SMTP relay %s: %w", s.Address, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// The context ending (serve stopping) ends the conversation at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP relay %s: greeting: %w", s.Address, err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("SMTP relay %s: EHLO: %w", s.Address, err)
	}
	offered, _ := c.Extension("STARTTLS")
	switch {
	case s.StartTLS == config.SMTPStartTLSNone:
	case offered:
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("SMTP relay %s: STARTTLS: %w", s.Address, err)
		}
	case s.StartTLS == config.SMTPStartTLSRequired:
		return fmt.Errorf("SMTP relay %s does not offer STARTTLS, which starttls = %q requires", s.Address, config.SMTPStartTLSRequired)
	}
	if s.Username != "" {
		// PlainAuth refuses to send the password without TLS unless the
		// relay is on localhost.
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("SMTP relay %s: AUTH as %q: %w", s.Address, s.Username, err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("SMTP relay %s: MAIL FROM:<%s>: %w", s.Address, s.From, err)
	}
	var refused []string
	accepted := 0
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			var te *textproto.Error
			if !errors.As(err, &te) || te.Code < 500 {
				return fmt.Errorf("SMTP relay %s: RCPT TO:<%s>: %w", s.Address, rcpt, err)
			}
			refused = append(refused, fmt.Sprintf("%s (%d %s)", rcpt, te.Code, oneLine(te.Msg)))
			continue
		}
		accepted++
	}
	if accepted > 0 {
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("SMTP relay %s: DATA: %w", s.Address, err)
		}
		if _, err := w.Write(msg); err != nil {
			return fmt.Errorf("SMTP relay %s: sending the message: %w", s.Address, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("SMTP relay %s: end of DATA: %w", s.Address, err)
		}
	}
	if err := c.Quit(); err != nil && accepted == 0 {
		return fmt.Errorf("SMTP relay %s: QUIT: %w", s.Address, err)
	}
	if len(refused) > 0 {
		return &permanentError{fmt.Errorf("the SMTP relay refused %s; sent to the %d other recipients",
			strings.Join(refused, ", "), accepted)}
	}
	return nil
}

// composeMail is the message: headers from fixed text and checked
// addresses only, the subject one line and RFC 2047-encoded when it is not
// ASCII, the body quoted-printable so that no line is too long and no byte
// is 8-bit.
func composeMail(from string, to []string, p Payload) ([]byte, error) {
	if err := config.CheckRecipients([]string{from}); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if err := config.CheckRecipients(to); err != nil {
		return nil, fmt.Errorf("recipients: %w", err)
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", "Move Mailbox Wizard <"+from+">")
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(p.Summary)))
	header("Date", p.At.Format(time.RFC1123Z))
	header("Message-ID", "<"+messageIDLocal(p.ID)+"@movewizard>")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	// Line breaks become CRLF.
	if _, err := qp.Write([]byte(p.Text())); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// messageIDLocal keeps the key's letters, digits and '-': keys are made
// of those, and a Message-ID must not carry anything else.
func messageIDLocal(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, key)
}

func helloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \r\n") {
		return "localhost"
	}
	return h
}
