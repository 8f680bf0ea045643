package migrate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
)

// MULTIAPPEND (RFC 3502) batches: where the target has it, a chunk's bodies
// go as a few APPENDs of many messages each, streamed from the FETCH
// literal into the APPEND literal as they arrive, several batches in
// flight. Dovecot stores one such command about three times faster than
// the same messages as pipelined single APPENDs (one transaction and one
// index update instead of one per message).
//
// A MULTIAPPEND is atomic: a NO stores none of it. Its messages are then
// sent again one by one (re-read from the source: bodies are never held),
// so that a message the target refuses becomes a bad item with the
// target's own reason, exactly as on the single-APPEND path.

// Batch bounds: at most batchMsgs messages and batchBytes bytes per
// MULTIAPPEND; a message bigger than batchBytes goes alone. Measured with
// BenchmarkCopyFolderDovecot (303 messages of 2-20 KB and 1 MB, Dovecot
// 2.3 to Dovecot 2.3, the copy phase): single APPENDs about 320 msgs/s,
// batches of 32, 64 or 128 messages about 1000 msgs/s alike (medians on a
// busy 2-core machine; its quietest runs gave 700 and 2300). A 2 MB bound
// was slower, 32 MB no faster; 64 messages and 8 MB keep a refused batch
// cheap to send again. Tests and benchmarks change them through
// export_batch_test.go.
var (
	batchMsgs  atomic.Int64
	batchBytes atomic.Int64
)

func init() {
	batchMsgs.Store(64)
	batchBytes.Store(8 << 20)
}

// batchHook, if set (tests), sees the answer to each MULTIAPPEND.
var batchHook atomic.Pointer[func(msgs int, err error)]

// useMultiAppend reports whether copies to dc go as MULTIAPPEND batches.
// LITERAL+ is required too: with synchronising literals a refusal can
// come instead of a continuation in the middle of a batch, which go-imap
// cannot recover from on that connection, and every big message would wait
// a round trip anyway.
func useMultiAppend(dc *conn) bool {
	return batchMsgs.Load() > 1 && dc.caps.Has(imap.CapMultiAppend) && dc.caps.Has(imap.CapLiteralPlus)
}

// plainFlags reports whether every flag is one a target must accept in
// APPEND: a system flag of RFC 3501 §2.3.2 or a keyword of printable
// ASCII. Another (a flag-extension such as \Bogus, a keyword with 8-bit
// bytes) may be refused with BAD, and after a BAD Dovecot reads what
// follows a non-synchronising literal's announcement, the message's lines,
// as commands: such a message goes alone with a synchronising literal.
func plainFlags(flags []imap.Flag) bool {
	for _, f := range flags {
		if strings.HasPrefix(string(f), `\`) {
			switch strings.ToLower(string(f)) {
			case `\seen`, `\answered`, `\flagged`, `\deleted`, `\draft`:
				continue
			}
			return false
		}
		for i := 0; i < len(f); i++ {
			if f[i] <= ' ' || f[i] >= 0x7f {
				return false
			}
		}
	}
	return true
}

// errStopped: the context ended and the copy stopped before a new message;
// every command sent is complete and its answer is awaited.
var errStopped = errors.New("copy stopped between messages")

func stopErr(ctx context.Context) error {
	return fmt.Errorf("%w: %w", errStopped, context.Cause(ctx))
}

// sentMsg is a message written into a batch.
type sentMsg struct {
	meta msgMeta
	size int64
	sum  []byte
}

// refusedBatch is a MULTIAPPEND the target refused: nothing of it stored.
type refusedBatch struct {
	msgs []sentMsg
	err  error
}

// batch is a MULTIAPPEND being written.
type batch struct {
	cmd   *imapclient.MultiAppendCommand
	msgs  []sentMsg
	bytes int64
}

// streamBatches fetches bodies and writes each into the open MULTIAPPEND
// as it arrives; a batch full by count or bytes goes to the pipeline and
// the next one starts. It returns the UIDs written into a batch and the
// FETCH's own outcome, like streamBodies.
func (r *run) streamBatches(ctx context.Context, f *db.Folder, sc, dc *conn, uids []imap.UID,
	metas map[imap.UID]msgMeta, p *pipeline) (map[imap.UID]bool, error) {
	got := make(map[imap.UID]bool, len(uids))
	maxMsgs, maxBytes := int(batchMsgs.Load()), batchBytes.Load()
	var b *batch
	// send ends the open batch, whose messages are all complete, and hands
	// it to the pipeline.
	send := func() {
		if b != nil {
			// An error here is the connection's: Wait reports it.
			_ = b.cmd.Close()
			p.add(pending{multi: b.cmd, batch: b.msgs})
			b = nil
		}
	}
	// A stop ends the open batch properly (it holds only complete
	// messages) and its answer is awaited.
	err := forEachBody(ctx, sc, uids, metas, got, send, func(meta msgMeta, lit imap.LiteralReader) error {
		if !plainFlags(copyFlags(meta.flags)) {
			// Sent alone later, read again then (see plainFlags).
			io.Copy(io.Discard, lit)
			p.alone = append(p.alone, meta)
			return nil
		}
		if b != nil && b.bytes+lit.Size() > maxBytes {
			send()
		}
		if b == nil {
			b = &batch{cmd: dc.c.MultiAppend(f.Target)}
		}
		if err := r.writeToBatch(f, p, b, meta, lit); err != nil {
			b = nil // writeToBatch handed the cut batch to the pipeline
			return err
		}
		if len(b.msgs) >= maxMsgs || b.bytes >= maxBytes {
			send()
		}
		return nil
	})
	// After a NO of the FETCH (unreadable messages) the open batch still
	// goes; after a stop or a cut none is open any more.
	send()
	return got, err
}

// writeToBatch streams one body into the batch. Like appendOne it compares
// the bytes read with the literal's size: a body that ends early must
// never complete the command. The cut batch then goes to the pipeline
// marked cut: when the answers to the batches before it are in, the loop
// closes it, and with its message incomplete that closes the target
// connection, so the server discards the whole batch. A server may also
// have refused the batch before the cut (Dovecot answers a NO to a bad
// keyword at once); its messages then go again singly.
func (r *run) writeToBatch(f *db.Folder, p *pipeline, b *batch, meta msgMeta, lit imap.LiteralReader) error {
	size := lit.Size()
	w := b.cmd.Message(size, &imap.AppendOptions{Flags: copyFlags(meta.flags), Time: meta.date})
	h := sha256.New()
	rd := &endReader{r: lit}
	n, err := copyBody(io.MultiWriter(w, h), rd)
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d of %d bytes", errShortLiteral, n, size)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// See appendOne: drain a literal that has not ended, never one that has.
		if !rd.ended {
			io.Copy(io.Discard, lit)
		}
		p.add(pending{multi: b.cmd, batch: append(b.msgs, sentMsg{meta: meta, size: size}), cut: true})
		p.cutQueued = true
		return fmt.Errorf("copy uid %d of %q: %w", meta.uid, f.Source, err)
	}
	b.msgs = append(b.msgs, sentMsg{meta: meta, size: size, sum: h.Sum(nil)})
	b.bytes += size
	return nil
}

// settleBatch waits for a MULTIAPPEND's answer and adds its copies to the
// commit batch cs: APPENDUID's UID set maps to the messages in the order
// they were sent. Without a usable APPENDUID the target UIDs stay unknown
// (0), as for a single APPEND without UIDPLUS.
func (p *pipeline) settleBatch(pd pending, cs []db.Copy) []db.Copy {
	r := p.r
	if pd.cut {
		// Its message is incomplete: this closes the connection (see
		// writeToBatch).
		pd.multi.Close()
	}
	data, err := pd.multi.Wait()
	if hook := batchHook.Load(); hook != nil {
		(*hook)(len(pd.batch), err)
	}
	switch {
	case err == nil && pd.cut:
		// Cannot happen: the server never saw the end of the command.
		if p.err == nil {
			p.err = fmt.Errorf("append to %q: the target accepted a batch cut short", p.f.Target)
		}
	case err == nil:
		for i, s := range pd.batch {
			var target uint32
			if len(data.UIDs) == len(pd.batch) {
				target = uint32(data.UIDs[i])
			}
			cs = append(cs, db.Copy{SourceUID: uint32(s.meta.uid), TargetUID: target,
				State: db.CopyDone, Size: s.size, SHA256: s.sum})
			p.m.MsgsDone++
			p.m.BytesDone += s.size
		}
	case imapCode(err) == imap.ResponseCodeOverQuota:
		if p.err == nil {
			p.err = abandonf("target %s is over quota (folder %q): %v", r.dst.Name, p.f.Target, err)
		}
	case isNo(err):
		p.refusedBatches = append(p.refusedBatches, refusedBatch{msgs: pd.batch, err: err})
	default:
		if p.err == nil {
			p.err = fmt.Errorf("append to %q: %w", p.f.Target, err)
		}
	}
	return cs
}

// resendSingly sends the messages of refused batches again as single
// APPENDs, on renewed connections where needed. Their 'sending' rows
// stand; a stop or a lost connection leaves them to reconciliation like
// any copy in flight.
func (r *run) resendSingly(ctx context.Context, f *db.Folder, refused []refusedBatch, alone []msgMeta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var uids []imap.UID
	metas := map[imap.UID]msgMeta{}
	for _, m := range alone {
		uids = append(uids, m.uid)
		metas[m.uid] = m
	}
	for _, rb := range refused {
		r.log.Info("target refused a batch, sending its messages one by one",
			"folder", f.Source, "msgs", len(rb.msgs), "err", rb.err)
		for _, m := range rb.msgs {
			uids = append(uids, m.meta.uid)
			metas[m.meta.uid] = m.meta
		}
	}
	slices.Sort(uids)
	if err := r.renewConns(ctx, f); err != nil {
		return err
	}
	return r.sendMessages(ctx, f, uids, metas, false)
}

// renewConns replaces a source or target connection that ended (Dovecot
// hangs up after refusing a command with BAD, a failed batch closes the
// target, an aborted FETCH the source) and EXAMINEs f again on a new
// source connection.
func (r *run) renewConns(ctx context.Context, f *db.Folder) error {
	drop := func(c *conn) {
		if c != nil {
			r.live.remove(c)
			c.abort() // no LOGOUT: it ended, or does not answer
		}
	}
	srcOK := usable(r.sc)
	if !srcOK {
		drop(r.sc)
		r.sc = nil
	}
	if !usable(r.dc) {
		drop(r.dc)
		r.dc = nil
	}
	if _, _, err := r.conns(ctx); err != nil {
		return err
	}
	if !srcOK {
		sel, err := r.sc.c.Select(f.Source, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return fmt.Errorf("examine %q: %w", f.Source, err)
		}
		if sel.UIDValidity != f.SourceUIDValidity {
			// A connection error for the caller: the retry reopens the
			// folder, and openFolder deals with the change.
			return fmt.Errorf("UIDVALIDITY of %q changed on a renewed connection", f.Source)
		}
	}
	return nil
}

// usable reports whether c is open and answers a NOOP. A closed client is
// never sent a command: its encoder may still be held by an APPEND cut in
// half.
func usable(c *conn) bool {
	if c == nil {
		return false
	}
	select {
	case <-c.c.Closed():
		return false
	default:
	}
	return c.c.Noop().Wait() == nil
}
