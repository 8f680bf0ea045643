package imapmem

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
)

// faultConn sits between imapserver and the TCP connection. It does three
// things imapserver has no hook for:
//
//   - cut the connection a precise number of bytes into a FETCH body literal
//     (CutFetch);
//   - answer GETQUOTAROOT and GETQUOTA, commands imapserver does not know
//     (see quota.go, read side);
//   - add QUOTA to the advertised capabilities, which imapserver restricts to
//     a fixed list.
//
// To do that the write side follows the response grammar just enough to know
// where literals are: outside a literal, output is buffered up to each LF and
// a segment ending in "{n}\r\n" announces n literal bytes that pass through
// untouched. imapserver flushes its buffer only after a CRLF, so buffering up
// to LF never delays a flush point.
type faultConn struct {
	net.Conn
	srv *Server
	in  inputState // used only by the connection goroutine (Read)

	// sess is set once in Server.newSession, before the first Read.
	sess *session

	wmu       sync.Mutex // guards the write side
	seg       []byte     // pending output segment, outside literals
	literal   int64      // literal bytes still to pass through
	cutArmed  bool       // cut the next body literal
	cutAfter  int64      // bytes of that literal to send before cutting
	cutting   bool       // inside the literal being cut
	cutLeft   int64      // bytes left before the cut
	cut       bool       // connection was cut: every write fails
	endedOnce sync.Once

	smu          sync.Mutex
	sessionEnded bool
}

func newFaultConn(nc net.Conn, srv *Server) *faultConn {
	return &faultConn{Conn: nc, srv: srv}
}

// armCut makes the next body literal written on c end the connection after
// after bytes. If the literal is shorter, the connection ends right after it.
func (c *faultConn) armCut(after int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cutArmed = true
	c.cutAfter = int64(max(after, 0))
}

// disarmCut cancels an armed cut that found no body literal.
func (c *faultConn) disarmCut() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cutArmed = false
}

// Write implements net.Conn. It reports len(p) on success because the
// segment buffering is invisible to the caller.
func (c *faultConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.cut {
		return 0, net.ErrClosed
	}
	var out []byte
	total := len(p)
	for len(p) > 0 {
		if c.literal > 0 {
			k := min(c.literal, int64(len(p)))
			if c.cutting && c.cutLeft < k {
				out = append(out, p[:c.cutLeft]...)
				return 0, c.cutNow(out)
			}
			out = append(out, p[:k]...)
			p = p[k:]
			c.literal -= k
			if c.cutting {
				c.cutLeft -= k
				if c.literal == 0 {
					return 0, c.cutNow(out)
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.seg = append(c.seg, p...)
			break
		}
		c.seg = append(c.seg, p[:i+1]...)
		p = p[i+1:]
		out = append(out, advertiseQuota(c.seg)...)
		if n, ok := literalSize(c.seg); ok {
			c.literal = n
			if c.cutArmed && isBodyItem(c.seg) {
				c.cutArmed, c.cutting, c.cutLeft = false, true, c.cutAfter
				if n == 0 {
					c.seg = c.seg[:0]
					return 0, c.cutNow(out)
				}
			}
		}
		c.seg = c.seg[:0]
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// cutNow sends out, then closes the TCP connection: the client sees a literal
// shorter than announced, then EOF.
func (c *faultConn) cutNow(out []byte) error {
	c.cut, c.cutting = true, false
	_, werr := c.Conn.Write(out)
	return errors.Join(errors.New("imapmem: connection cut by fault injection"), werr, c.Conn.Close())
}

// literalSize reports the size of the literal that seg, a segment ending in
// LF, announces ("{n}\r\n", or "~{n}\r\n" for literal8).
func literalSize(seg []byte) (int64, bool) {
	seg = bytes.TrimSuffix(seg, []byte("\r\n"))
	if !bytes.HasSuffix(seg, []byte("}")) {
		return 0, false
	}
	i := bytes.LastIndexByte(seg, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(seg[i+1:len(seg)-1], []byte("+")) // client side literal+
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// isBodyItem reports whether seg announces a message content literal
// (BODY[...], BINARY[...], RFC822, RFC822.TEXT) rather than, say, an
// ENVELOPE string.
func isBodyItem(seg []byte) bool {
	i := bytes.LastIndexByte(seg, '{')
	head := bytes.TrimSuffix(bytes.TrimSuffix(seg[:i], []byte("~")), []byte(" "))
	for _, suffix := range [][]byte{[]byte("]"), []byte(">"), []byte(" RFC822"), []byte(" RFC822.TEXT"), []byte("(RFC822"), []byte("(RFC822.TEXT")} {
		if bytes.HasSuffix(head, suffix) {
			return true
		}
	}
	return false
}

// advertiseQuota adds QUOTA to a capability list in seg, which is either an
// untagged CAPABILITY response or a status response with a CAPABILITY code.
func advertiseQuota(seg []byte) []byte {
	const quotaCaps = " QUOTA QUOTA=RES-STORAGE"
	isCaps := bytes.HasPrefix(seg, []byte("* CAPABILITY "))
	if !isCaps {
		if i := bytes.Index(seg, []byte(" [CAPABILITY ")); i > 0 && i < 40 {
			isCaps = true
		}
	}
	if !isCaps {
		return seg
	}
	i := bytes.Index(seg, []byte(" IMAP4rev1"))
	if i < 0 {
		return seg
	}
	i += len(" IMAP4rev1")
	out := make([]byte, 0, len(seg)+len(quotaCaps))
	out = append(out, seg[:i]...)
	out = append(out, quotaCaps...)
	return append(out, seg[i:]...)
}

// closeNet closes the TCP connection without ending the accounting; Server.Close
// uses it, and the connection goroutine then ends through Close.
func (c *faultConn) closeNet() error {
	return c.Conn.Close()
}

// sessionClosed records that imapserver closed the session. After it, the
// connection goroutine only closes the connection.
func (c *faultConn) sessionClosed() {
	c.smu.Lock()
	c.sessionEnded = true
	c.smu.Unlock()
}

// Close implements net.Conn. imapserver closes the connection as the last act
// of its goroutine, after closing the session; that close ends the accounting.
// An earlier close (imapserver's BYE on an unknown command) does not.
func (c *faultConn) Close() error {
	err := c.Conn.Close()
	c.smu.Lock()
	ended := c.sessionEnded
	c.smu.Unlock()
	if ended {
		c.endedOnce.Do(func() { c.srv.connEnded(c) })
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
