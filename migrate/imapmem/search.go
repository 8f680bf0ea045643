package imapmem

import (
	"bytes"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Search implements imapserver.Session. Supported keys: sequence and UID
// sets, flags, INTERNALDATE and Date: ranges, sizes, HEADER, NOT, OR; BODY
// and TEXT match the raw bytes case-insensitively, without MIME decoding,
// which is enough for a test and demo server.
func (sess *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, opts *imap.SearchOptions) (*imap.SearchData, error) {
	if err := sess.hang(); err != nil {
		return nil, err
	}
	sel := sess.sel
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()

	var data imap.SearchData
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for i, m := range mb.msgs {
		seqNum := sel.view.EncodeSeqNum(uint32(i) + 1)
		if !sel.match(m, seqNum, criteria) {
			continue
		}
		uids.AddNum(m.uid)
		num := uint32(m.uid)
		if kind == imapserver.NumKindSeq {
			if seqNum == 0 {
				continue
			}
			seqs.AddNum(seqNum)
			num = seqNum
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
	}
	if kind == imapserver.NumKindSeq {
		data.All = seqs
	} else {
		data.All = uids
	}
	if opts.ReturnSave {
		sel.searchRes = uids
	}
	return &data, nil
}

// match reports whether m matches every key of c. mb.mu must be held.
func (sel *selected) match(m *message, seqNum uint32, c *imap.SearchCriteria) bool {
	n := uint32(len(sel.mb.msgs))
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			if !containsUID(sel.searchRes, m.uid, sel.mb.uidNext-1) {
				return false
			}
		} else if seqNum == 0 || !containsSeq(set, seqNum, n) {
			return false
		}
	}
	for _, set := range c.UID {
		if !containsUID(set, m.uid, sel.mb.uidNext-1) {
			return false
		}
	}
	if !inDateRange(m.date, c.Since, c.Before) {
		return false
	}
	for _, f := range c.Flag {
		if _, ok := m.flags[canonicalFlag(f)]; !ok {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if _, ok := m.flags[canonicalFlag(f)]; ok {
			return false
		}
	}
	size := int64(len(m.body))
	if (c.Larger != 0 && size <= c.Larger) || (c.Smaller != 0 && size >= c.Smaller) {
		return false
	}
	if !matchContent(m.body, c) {
		return false
	}
	for i := range c.Not {
		if sel.match(m, seqNum, &c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !sel.match(m, seqNum, &c.Or[i][0]) && !sel.match(m, seqNum, &c.Or[i][1]) {
			return false
		}
	}
	return true
}

// matchContent checks the header and text keys.
func matchContent(body []byte, c *imap.SearchCriteria) bool {
	if len(c.Header) == 0 && c.SentSince.IsZero() && c.SentBefore.IsZero() && len(c.Body) == 0 && len(c.Text) == 0 {
		return true
	}
	var header mail.Header
	text := body
	if msg, err := mail.ReadMessage(bytes.NewReader(body)); err == nil {
		header = msg.Header
		if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
			text = body[i+4:]
		}
	}
	for _, h := range c.Header {
		values := header[textproto.CanonicalMIMEHeaderKey(h.Key)]
		if !containsFold(values, h.Value) {
			return false
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		date, err := header.Date()
		if err != nil || !inDateRange(date, c.SentSince, c.SentBefore) {
			return false
		}
	}
	for _, s := range c.Body {
		if !bytes.Contains(bytes.ToLower(text), bytes.ToLower([]byte(s))) {
			return false
		}
	}
	for _, s := range c.Text {
		if !bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(s))) {
			return false
		}
	}
	return true
}

// containsFold reports whether some value contains sub; an empty sub matches
// any present header (RFC 3501 section 6.4.4, HEADER).
func containsFold(values []string, sub string) bool {
	for _, v := range values {
		if strings.Contains(strings.ToLower(v), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// inDateRange compares dates only, ignoring time and zone, as RFC 3501
// section 6.4.4 asks for SINCE and BEFORE.
func inDateRange(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(since) {
		return false
	}
	if !before.IsZero() && !d.Before(before) {
		return false
	}
	return true
}
