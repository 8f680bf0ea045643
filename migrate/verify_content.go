package migrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
)

// Verified means the same bytes. Each copy's SHA-256 was computed from the
// source's bytes while they streamed into the APPEND; verification reads
// the target's copy back and hashes it. A server that alters a message on
// APPEND (Cyrus as shipped rewrites raw 8-bit header bytes to 'X', keeping
// the size) thus makes that message a bad item, kept on the source, instead
// of a silent loss once the source is removed.

// verifyBatch is how many target messages one FETCH of bodies asks for.
const verifyBatch = 500

// diffLimit bounds the size of a message whose bytes are compared one by
// one to say how it changed; a bigger one is reported by its digest.
const diffLimit = 16 << 20

// checkContent reads back the unverified copies among want (the target
// folder selected), records those whose bytes match, and returns those that
// differ, with the copies already known to differ in size (altered), and
// how many could not be read back (gone since the listing).
func (r *run) checkContent(ctx context.Context, dc *conn, f *db.Folder, want, altered []db.Copy) ([]db.Copy, int, error) {
	differ := slices.Clone(altered)
	skip := map[uint32]bool{}
	for _, c := range altered {
		skip[c.SourceUID] = true
	}
	var todo []db.Copy
	for _, c := range want {
		if !c.Verified && c.TargetUID != 0 && !skip[c.SourceUID] {
			todo = append(todo, c)
		}
	}
	more, unread, err := r.readBackCopies(ctx, dc, f, todo)
	if err != nil {
		return nil, 0, err
	}
	return append(differ, more...), unread, nil
}

// readBackCopies hashes the target's copies in todo (the target folder
// selected), in batches, records those whose bytes equal the source's, and
// returns those that differ, and how many are gone from the target since
// they were listed (neither verified nor different: the next verification
// round sees them missing).
func (r *run) readBackCopies(ctx context.Context, dc *conn, f *db.Folder, todo []db.Copy) ([]db.Copy, int, error) {
	var differ []db.Copy
	unread := 0
	slices.SortFunc(todo, func(a, b db.Copy) int { return int(a.TargetUID) - int(b.TargetUID) })
	for len(todo) > 0 {
		n := min(len(todo), verifyBatch)
		batch := todo[:n]
		todo = todo[n:]
		uids := make([]imap.UID, len(batch))
		for i, c := range batch {
			uids[i] = imap.UID(c.TargetUID)
		}
		sums, err := hashBodies(dc, uids)
		if err != nil {
			return nil, 0, fmt.Errorf("read back copies in target %q: %w", f.Target, err)
		}
		var ok []uint32
		for _, c := range batch {
			sum, got := sums[imap.UID(c.TargetUID)]
			switch {
			case !got:
				unread++
			case bytes.Equal(sum, c.SHA256):
				ok = append(ok, c.SourceUID)
			default:
				differ = append(differ, c)
			}
		}
		if err := r.mv.DB.MarkVerified(ctx, f.ID, ok); err != nil {
			return nil, 0, err
		}
	}
	return differ, unread, nil
}

// rejectAltered turns copies the target changed into bad items: the copy
// is removed from the target (it is ours, and wrong), the message stays on
// the source, and the policy counts it.
func (r *run) rejectAltered(ctx context.Context, sc, dc *conn, f *db.Folder, differ []db.Copy) error {
	if len(differ) == 0 {
		return nil
	}
	if _, err := sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fmt.Errorf("examine %q: %w", f.Source, err)
	}
	reasons := make([]string, len(differ))
	for i, c := range differ {
		reasons[i] = r.describeChange(sc, dc, f, c)
	}
	var remove []uint32
	for _, c := range differ {
		remove = append(remove, c.TargetUID)
	}
	if err := expungeUIDs(dc, f.Target, remove); err != nil {
		return err
	}
	metas, err := fetchMeta(sc, sourceUIDs(differ))
	if err != nil {
		return fmt.Errorf("flags and dates in %q: %w", f.Source, err)
	}
	for i, c := range differ {
		meta, ok := metas[imap.UID(c.SourceUID)]
		if !ok {
			meta = msgMeta{uid: imap.UID(c.SourceUID), size: c.Size}
		}
		if err := r.badItem(ctx, f, meta, reasons[i]); err != nil {
			return err
		}
	}
	return r.recount(ctx)
}

func sourceUIDs(cs []db.Copy) []imap.UID {
	out := make([]imap.UID, len(cs))
	for i, c := range cs {
		out[i] = imap.UID(c.SourceUID)
	}
	return out
}

// describeChange says how the target's copy differs from the source's
// message ("the target changed the message: 212 bytes differ in the
// header"), comparing the bytes when both are small enough to hold. Both
// folders are selected (the target since its sizes were listed).
func (r *run) describeChange(sc, dc *conn, f *db.Folder, c db.Copy) string {
	const prefix = "the target changed the message"
	if c.Size > diffLimit {
		return fmt.Sprintf("%s: its copy's SHA-256 differs from the source's (%d bytes, not compared byte by byte)", prefix, c.Size)
	}
	src, err := fetchBody(sc, imap.UID(c.SourceUID))
	if err != nil {
		return fmt.Sprintf("%s: its copy's SHA-256 differs from the source's (source not read again: %v)", prefix, err)
	}
	dst, err := fetchBody(dc, imap.UID(c.TargetUID))
	if err != nil {
		return fmt.Sprintf("%s: its copy's SHA-256 differs from the source's (target not read again: %v)", prefix, err)
	}
	return prefix + ": " + byteDiff(src, dst)
}

// byteDiff describes how b differs from a: how many bytes, and whether in
// the header (before the first empty line), the body, or both.
func byteDiff(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d bytes became %d", len(a), len(b))
	}
	end := bytes.Index(a, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(a)
	}
	var inHeader, inBody int
	for i := range a {
		if a[i] != b[i] {
			if i < end {
				inHeader++
			} else {
				inBody++
			}
		}
	}
	switch {
	case inHeader > 0 && inBody > 0:
		return fmt.Sprintf("%d bytes differ in the header and %d in the body", inHeader, inBody)
	case inHeader > 0:
		return fmt.Sprintf("%d bytes differ in the header", inHeader)
	case inBody > 0:
		return fmt.Sprintf("%d bytes differ in the body", inBody)
	}
	return "its copy's SHA-256 differs although the bytes read back now are equal"
}

// fetchBody reads one message of the selected folder whole (callers bound
// its size).
func fetchBody(c *conn, uid imap.UID) ([]byte, error) {
	fetch := c.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	var body []byte
	var got bool
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if it, ok := item.(imapclient.FetchItemDataBodySection); ok && it.Literal != nil {
				b, err := io.ReadAll(it.Literal)
				if err == nil && int64(len(b)) != it.Literal.Size() {
					err = errShortLiteral
				}
				if err != nil {
					abortFetch(c, fetch)
					return nil, err
				}
				body, got = b, true
			}
		}
	}
	if err := fetch.Close(); err != nil {
		return nil, err
	}
	if !got {
		return nil, fmt.Errorf("uid %d: no body", uid)
	}
	return body, nil
}
