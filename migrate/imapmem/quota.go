package imapmem

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// QUOTA (RFC 9208) is answered beside imapserver, which has no QUOTA command:
// faultConn.Read takes GETQUOTAROOT and GETQUOTA commands out of the input
// and answers them itself. That is safe because imapserver serves one command
// at a time and flushes every response before it reads again, so when it asks
// for input the output is at a response boundary. Every user has one quota
// root, "", covering all mailboxes, with one resource: STORAGE in KiB.

// maxInterceptLine bounds the command line buffered for interception; longer
// lines pass through to imapserver, which rejects them.
const maxInterceptLine = 64 * 1024

// inputState tracks the client's command stream: the bytes read but not yet
// handed to imapserver, and where command lines start (literals do not count).
type inputState struct {
	raw        []byte // read from the network, not yet classified
	ready      []byte // classified, to be returned by Read
	literal    int64  // literal bytes still to pass through
	midLine    bool   // an over-long line is being passed through
	pendingErr error  // read error to return once ready is drained
}

// SetQuota sets the storage limit of user's quota root; limitBytes <= 0
// removes the quota. APPENDs that would exceed it fail with OVERQUOTA.
func (s *Server) SetQuota(userName string, limitBytes int64) error {
	u, err := s.user(userName)
	if err != nil {
		return fmt.Errorf("set quota: %w", err)
	}
	u.mu.Lock()
	u.quotaLimit = max(limitBytes, 0)
	u.mu.Unlock()
	return nil
}

// Read implements net.Conn.
func (c *faultConn) Read(p []byte) (int, error) {
	in := &c.in
	for len(in.ready) == 0 {
		if in.pendingErr != nil {
			return 0, in.pendingErr
		}
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		in.raw = append(in.raw, buf[:n]...)
		in.pendingErr = err
		if err := c.classify(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.ready)
	in.ready = in.ready[n:]
	return n, nil
}

// classify moves complete input from raw to ready, answering the quota
// commands it finds at command starts.
func (c *faultConn) classify() error {
	in := &c.in
	for len(in.raw) > 0 {
		if in.literal > 0 {
			k := min(in.literal, int64(len(in.raw)))
			in.ready = append(in.ready, in.raw[:k]...)
			in.raw = in.raw[k:]
			in.literal -= k
			continue
		}
		i := bytes.IndexByte(in.raw, '\n')
		if i < 0 {
			if len(in.raw) > maxInterceptLine {
				in.ready = append(in.ready, in.raw...)
				in.raw = in.raw[:0]
				in.midLine = true
			}
			return nil
		}
		line := in.raw[:i+1]
		in.raw = in.raw[i+1:]
		if !in.midLine {
			handled, err := c.maybeQuotaCommand(line)
			if err != nil {
				return err
			}
			if handled {
				continue
			}
		}
		in.midLine = false
		in.ready = append(in.ready, line...)
		if n, ok := literalSize(line); ok {
			in.literal = n
		}
	}
	return nil
}

// maybeQuotaCommand answers line if it is a GETQUOTAROOT or GETQUOTA command.
// A continuation line (a literal follows) is never one of ours.
func (c *faultConn) maybeQuotaCommand(line []byte) (bool, error) {
	if _, ok := literalSize(line); ok {
		return false, nil
	}
	tag, rest, ok := strings.Cut(strings.TrimRight(string(line), "\r\n"), " ")
	if !ok {
		return false, nil
	}
	name, arg, _ := strings.Cut(rest, " ")
	name = strings.ToUpper(name)
	if name != "GETQUOTAROOT" && name != "GETQUOTA" {
		return false, nil
	}
	_, err := c.Write([]byte(c.quotaResponse(tag, name, arg)))
	return true, err
}

// quotaResponse returns the full response, untagged data and tagged status.
func (c *faultConn) quotaResponse(tag, name, arg string) string {
	sess := c.sess
	if sess == nil || sess.user == nil {
		return tag + " BAD [CLIENTBUG] Not authenticated\r\n"
	}
	if err := sess.hang(); err != nil {
		return tag + " NO Server shutting down\r\n"
	}
	u := sess.user
	target, err := unquoteAString(arg)
	if err != nil {
		return tag + " BAD [CLIENTBUG] " + err.Error() + "\r\n"
	}
	u.mu.Lock()
	limit := u.quotaLimit
	used := u.usageLocked()
	// Names with '&' are modified UTF-7, which we cannot decode here; their
	// existence is not checked.
	_, exists := u.mailboxes[canonicalName(target)]
	u.mu.Unlock()
	quota := fmt.Sprintf("* QUOTA \"\" (STORAGE %d %d)\r\n", (used+1023)/1024, limit/1024)

	var b strings.Builder
	switch name {
	case "GETQUOTAROOT":
		if !exists && !strings.Contains(target, "&") {
			return tag + " NO [NONEXISTENT] No such mailbox\r\n"
		}
		if limit == 0 {
			b.WriteString("* QUOTAROOT " + arg + "\r\n")
		} else {
			b.WriteString("* QUOTAROOT " + arg + " \"\"\r\n" + quota)
		}
	case "GETQUOTA":
		if target != "" || limit == 0 {
			return tag + " NO [NONEXISTENT] No such quota root\r\n"
		}
		b.WriteString(quota)
	}
	b.WriteString(tag + " OK " + name + " completed\r\n")
	return b.String()
}

// unquoteAString decodes an IMAP atom or quoted string.
func unquoteAString(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		if s == "" || strings.ContainsAny(s, " ()") {
			return "", fmt.Errorf("bad argument %q", s)
		}
		return s, nil
	}
	v, err := strconv.Unquote(s)
	if err != nil {
		return "", fmt.Errorf("bad quoted string: %w", err)
	}
	return v, nil
}

// checkQuota refuses an APPEND of size bytes that would exceed u's quota.
func checkQuota(u *user, size int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.overQuotaLocked(size)
}

func (u *user) overQuotaLocked(size int64) error {
	if u.quotaLimit > 0 && u.usageLocked()+size > u.quotaLimit {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Quota exceeded"}
	}
	return nil
}
