package imapclient

// movewizard patch: this whole file is not in upstream go-imap v2.0.0-beta.8.
// It adds a client MULTIAPPEND (RFC 3502) and the parsing of APPENDUID
// uid-sets (RFC 4315 §3) that MULTIAPPEND answers carry.

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
)

var errMultiAppendEmpty = errors.New("imapclient: MULTIAPPEND without a message")

// MultiAppend starts an APPEND of several messages in one command (RFC 3502
// MULTIAPPEND; check imap.CapMultiAppend first). The server stores all of
// them or none.
//
// For each message call Message, write exactly size bytes to the returned
// writer and close it; then call Close, and Wait for the answer. Bytes go
// to the connection as they are written: no message is held in memory.
//
// Nothing is sent before the first Message. From then until Close the
// command holds the connection's encoder, as APPEND does: other commands
// wait.
func (c *Client) MultiAppend(mailbox string) *MultiAppendCommand {
	return &MultiAppendCommand{client: c, mailbox: mailbox}
}

// MultiAppendCommand is a MULTIAPPEND command.
type MultiAppendCommand struct {
	commandBase
	client  *Client
	mailbox string
	enc     *commandEncoder
	msg     *multiAppendMessage // the message last started
	count   int
	err     error // first write error: the command can no longer be ended
	closed  bool

	// set by the reader goroutine before the command completes
	uidValidity uint32
	uids        uidRanges
}

// MultiAppendData is the answer to a MULTIAPPEND command.
type MultiAppendData struct {
	// UIDValidity and UIDs are from APPENDUID (requires UIDPLUS): the UIDs
	// of the messages in the order they were sent. UIDs is nil when the
	// server returned no APPENDUID or a set that does not hold one UID per
	// message.
	UIDValidity uint32
	UIDs        []imap.UID
}

// Message starts the next message. The caller must write exactly size
// bytes to the returned writer and close it before the next Message or
// Close. The options are optional.
func (cmd *MultiAppendCommand) Message(size int64, options *imap.AppendOptions) io.WriteCloser {
	switch {
	case cmd.closed:
		return errorWriter{errors.New("imapclient: MULTIAPPEND already closed")}
	case cmd.err != nil:
		return errorWriter{cmd.err}
	case cmd.msg != nil && !cmd.msg.closed:
		cmd.err = fmt.Errorf("imapclient: MULTIAPPEND message %d not closed before the next", cmd.count)
		return errorWriter{cmd.err}
	}
	if cmd.enc == nil {
		cmd.enc = cmd.client.beginCommand("APPEND", cmd)
		cmd.enc.SP().Mailbox(cmd.mailbox)
	}
	cmd.enc.SP()
	if options != nil && len(options.Flags) > 0 {
		cmd.enc.List(len(options.Flags), func(i int) {
			cmd.enc.Flag(options.Flags[i])
		}).SP()
	}
	if options != nil && !options.Time.IsZero() {
		cmd.enc.String(options.Time.Format(internal.DateTimeLayout)).SP()
	}
	cmd.count++
	cmd.msg = &multiAppendMessage{cmd: cmd, wc: cmd.enc.Literal(size)}
	return cmd.msg
}

// Close ends the command. When a message is incomplete or a write failed,
// the command cannot be ended in a way the server accepts: Close then
// closes the connection, so that the server discards the whole command
// (and any other command still pending on this client fails), and returns
// the error.
func (cmd *MultiAppendCommand) Close() error {
	if cmd.closed {
		return cmd.err
	}
	cmd.closed = true
	if cmd.enc == nil {
		cmd.err = errMultiAppendEmpty
		return cmd.err
	}
	if cmd.msg != nil && !cmd.msg.closed {
		cmd.msg.Close()
	}
	if cmd.err != nil {
		cmd.enc.Encoder = nil // release the encoder without writing anything
		cmd.enc.end()
		cmd.client.closeWithError(cmd.err)
		return cmd.err
	}
	cmd.enc.end()
	return nil
}

// Wait blocks until the command has completed. It must follow Close.
func (cmd *MultiAppendCommand) Wait() (*MultiAppendData, error) {
	if cmd.enc == nil { // never sent
		if cmd.err == nil {
			cmd.err = errMultiAppendEmpty
		}
		return &MultiAppendData{}, cmd.err
	}
	err := cmd.wait()
	data := &MultiAppendData{UIDValidity: cmd.uidValidity}
	if cmd.uids.count() == uint64(cmd.count) {
		data.UIDs = cmd.uids.expand()
	}
	return data, err
}

// multiAppendMessage is the literal of one message of a MULTIAPPEND.
type multiAppendMessage struct {
	cmd    *MultiAppendCommand
	wc     io.WriteCloser
	closed bool
}

func (m *multiAppendMessage) Write(b []byte) (int, error) {
	if m.closed {
		return 0, errors.New("imapclient: write to a closed MULTIAPPEND message")
	}
	n, err := m.wc.Write(b)
	if err != nil && m.cmd.err == nil {
		m.cmd.err = err
	}
	return n, err
}

// Close ends the message's literal; it fails when fewer bytes than the
// announced size were written (the command is then unusable: see
// MultiAppendCommand.Close).
func (m *multiAppendMessage) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.wc.Close()
	if err != nil && m.cmd.err == nil {
		m.cmd.err = err
	}
	return err
}

// uidRanges is an APPENDUID uid-set in the order the server wrote it.
type uidRanges []struct{ start, stop imap.UID }

// parseUIDRanges parses a uid-set of unique ids ("*" is not allowed in
// APPENDUID). A range a:b means every UID from min(a,b) to max(a,b),
// ascending (RFC 4315 §4 calls 2:4 and 4:2 equivalent).
func parseUIDRanges(s string) (uidRanges, error) {
	var out uidRanges
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, ":")
		start, err := parseNzUID(a)
		if err != nil {
			return nil, err
		}
		stop := start
		if isRange {
			if stop, err = parseNzUID(b); err != nil {
				return nil, err
			}
		}
		if start > stop {
			start, stop = stop, start
		}
		out = append(out, struct{ start, stop imap.UID }{start, stop})
	}
	return out, nil
}

func parseNzUID(s string) (imap.UID, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad UID %q in uid-set", s)
	}
	return imap.UID(n), nil
}

// count is how many UIDs the set holds, without expanding it.
func (r uidRanges) count() uint64 {
	var n uint64
	for _, rg := range r {
		n += uint64(rg.stop-rg.start) + 1
	}
	return n
}

func (r uidRanges) expand() []imap.UID {
	out := make([]imap.UID, 0, r.count())
	for _, rg := range r {
		for u := rg.start; ; u++ {
			out = append(out, u)
			if u == rg.stop {
				break
			}
		}
	}
	return out
}

// errorWriter fails every write and its close with err.
type errorWriter struct{ err error }

func (w errorWriter) Write([]byte) (int, error) { return 0, w.err }
func (w errorWriter) Close() error              { return w.err }
