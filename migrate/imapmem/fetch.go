package imapmem

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// Fetch implements imapserver.Session. It is where FailFetch and CutFetch
// act: each message whose content is requested consults the faults first.
//
// A failed message gets no FETCH response; the others are still returned and
// the command ends with NO [SERVERBUG], which is what Dovecot does for a
// message it cannot read. The code is SERVERBUG rather than UNAVAILABLE
// because the failure is tied to the message, not to server load.
func (sess *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, opts *imap.FetchOptions) error {
	if err := sess.hang(); err != nil {
		return err
	}
	sel := sess.sel
	type item struct {
		seqNum uint32
		m      *message
	}
	var items []item
	sel.mb.mu.Lock()
	sel.forEachLocked(numSet, func(seqNum uint32, m *message) { items = append(items, item{seqNum, m}) })
	mbName := sel.mb.name
	sel.mb.mu.Unlock()

	readsContent := len(opts.BodySection) > 0 || len(opts.BinarySection) > 0
	markSeen := !sel.readOnly && setsSeen(opts)
	failed := 0
	for _, it := range items {
		cut := false
		if readsContent {
			var fail bool
			var after int
			fail, cut, after = sess.srv.faults.fetchOutcome(sess.user.name, mbName, it.m.uid)
			if fail {
				failed++
				continue
			}
			if cut && sess.conn != nil {
				sess.conn.armCut(after)
			}
		}
		flags := sel.flags(it.seqNum, it.m, markSeen)
		err := writeMessage(w.CreateMessage(sel.view.EncodeSeqNum(it.seqNum)), it.m, flags, opts, markSeen)
		if cut && sess.conn != nil {
			sess.conn.disarmCut()
		}
		if err != nil {
			return err
		}
	}
	if failed > 0 {
		return &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeServerBug,
			Text: fmt.Sprintf("%d message(s) could not be read", failed),
		}
	}
	return nil
}

// setsSeen reports whether a FETCH sets \Seen: BODY[] and BINARY[] without
// .PEEK, and RFC822 (RFC 3501 section 6.4.5).
func setsSeen(opts *imap.FetchOptions) bool {
	for _, bs := range opts.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range opts.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

// flags returns the flags of m, adding \Seen first if markSeen.
func (sel *selected) flags(seqNum uint32, m *message, markSeen bool) []imap.Flag {
	sel.mb.mu.Lock()
	defer sel.mb.mu.Unlock()
	if markSeen {
		if _, ok := m.flags[canonicalFlag(imap.FlagSeen)]; !ok {
			m.flags[canonicalFlag(imap.FlagSeen)] = struct{}{}
			sel.mb.tracker.QueueMessageFlags(seqNum, m.uid, m.flagList(), sel.view)
		}
	}
	return m.flagList()
}

// writeMessage writes one FETCH response. FLAGS is included whenever \Seen
// may have changed, as RFC 3501 section 6.4.5 asks.
func writeMessage(w *imapserver.FetchResponseWriter, m *message, flags []imap.Flag, opts *imap.FetchOptions, markSeen bool) error {
	w.WriteUID(m.uid)
	if opts.Flags || markSeen {
		w.WriteFlags(flags)
	}
	if opts.InternalDate {
		w.WriteInternalDate(m.date)
	}
	if opts.RFC822Size {
		w.WriteRFC822Size(int64(len(m.body)))
	}
	if opts.Envelope {
		w.WriteEnvelope(envelope(m.body))
	}
	if opts.BodyStructure != nil {
		w.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(m.body)))
	}
	for _, bs := range opts.BodySection {
		buf := imapserver.ExtractBodySection(bytes.NewReader(m.body), bs)
		if err := writeLiteral(w.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
			// Close releases imapserver's response encoder; without it the
			// connection's goroutine deadlocks on its next response.
			w.Close()
			return err
		}
	}
	for _, bs := range opts.BinarySection {
		buf := imapserver.ExtractBinarySection(bytes.NewReader(m.body), bs)
		if err := writeLiteral(w.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			// Close releases imapserver's response encoder; without it the
			// connection's goroutine deadlocks on its next response.
			w.Close()
			return err
		}
	}
	for _, bss := range opts.BinarySectionSize {
		w.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(m.body), bss))
	}
	return w.Close()
}

func writeLiteral(wc io.WriteCloser, buf []byte) error {
	_, werr := wc.Write(buf)
	cerr := wc.Close()
	if werr != nil {
		return fmt.Errorf("write literal: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("close literal: %w", cerr)
	}
	return nil
}

// envelope parses the header of body; a malformed header gives an empty
// envelope, as imapmemserver does.
func envelope(body []byte) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(body)))
	if err != nil {
		return nil
	}
	return imapserver.ExtractEnvelope(h)
}
