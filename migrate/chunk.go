package migrate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// copyChunk copies a few hundred messages: one FETCH for flags and dates,
// 'sending' rows committed, then one FETCH of bodies streamed straight into
// pipelined APPENDs, or into MULTIAPPEND batches where the target has them
// (chunk_batch.go). Messages the source failed to read are retried one by
// one afterwards.
func (r *run) copyChunk(ctx context.Context, f *db.Folder, uids []imap.UID) error {
	sc := r.sc
	metas, err := fetchMeta(sc, uids)
	if err != nil {
		return fmt.Errorf("flags and dates in %q: %w", f.Source, err)
	}
	var present []imap.UID
	var sending []db.Copy
	for _, u := range uids {
		if m, ok := metas[u]; ok { // absent: expunged since the search
			present = append(present, u)
			sending = append(sending, db.Copy{SourceUID: uint32(u), Size: m.size})
		}
	}
	if len(present) == 0 {
		return nil
	}
	if err := r.mv.DB.MarkSending(ctx, f.ID, sending); err != nil {
		return err
	}
	return r.sendMessages(ctx, f, present, metas, useMultiAppend(r.dc))
}

// sendMessages streams the bodies of uids, whose 'sending' rows are
// committed, to the target: as MULTIAPPEND batches when multi is set,
// otherwise as pipelined single APPENDs. A batch the target refused is sent
// again message by message, so that each refusal names one message.
func (r *run) sendMessages(ctx context.Context, f *db.Folder, uids []imap.UID, metas map[imap.UID]msgMeta, multi bool) error {
	sc, dc := r.sc, r.dc
	p := r.startPipeline(ctx, f)
	var got map[imap.UID]bool
	var ferr error
	if multi {
		got, ferr = r.streamBatches(ctx, f, sc, dc, uids, metas, p)
	} else {
		got, ferr = r.streamBodies(ctx, f, sc, dc, uids, metas, p)
	}
	// A stop between two messages leaves every command sent complete: the
	// target connection stays open for their answers.
	stopped := errors.Is(ferr, errStopped)
	if ferr != nil && !isNo(ferr) && !stopped && !p.cutQueued {
		// Unblock appends still waiting on a target that may be half-way
		// through a literal: closing is the only safe way out.
		dc.c.Close()
	}
	perr := p.finish(ctx)
	if perr != nil && p.cutQueued && ferr != nil && isConnLoss(perr) {
		// The closed connection is the cut's consequence; report its cause.
		perr = ferr
	}
	// A lost connection still lets refused batches go again singly (on
	// renewed connections): some servers hang up after refusing one, and
	// sending them as a batch again would fail the same way for ever.
	if perr != nil && !(isConnLoss(perr) && (len(p.refusedBatches) > 0 || len(p.alone) > 0)) {
		return perr
	}
	if err := r.handleRefusals(ctx, f, p.refused); err != nil {
		return err
	}
	if stopped {
		return ctx.Err()
	}
	if len(p.refusedBatches) > 0 || len(p.alone) > 0 {
		if err := r.resendSingly(ctx, f, p.refusedBatches, p.alone); err != nil {
			return err
		}
	}
	if perr != nil {
		return perr
	}
	if ferr != nil && !isNo(ferr) {
		return ferr
	}
	for _, u := range uids {
		if !got[u] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.retryRead(ctx, f, metas[u], ferr); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchMeta reads FLAGS, INTERNALDATE and RFC822.SIZE of a chunk. These
// are small, so they are collected; bodies never are.
func fetchMeta(c *conn, uids []imap.UID) (map[imap.UID]msgMeta, error) {
	msgs, err := c.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
	}).Collect()
	if err != nil {
		return nil, err
	}
	out := make(map[imap.UID]msgMeta, len(msgs))
	for _, m := range msgs {
		out[m.UID] = msgMeta{uid: m.UID, flags: m.Flags, date: m.InternalDate, size: m.RFC822Size}
	}
	return out, nil
}

// streamBodies fetches bodies and appends each as it arrives. It returns
// the UIDs handed to the pipeline and the FETCH's own outcome (a NO means
// some messages could not be read; they are absent from got).
func (r *run) streamBodies(ctx context.Context, f *db.Folder, sc, dc *conn, uids []imap.UID,
	metas map[imap.UID]msgMeta, p *pipeline) (map[imap.UID]bool, error) {
	got := make(map[imap.UID]bool, len(uids))
	// A stop sends no new message: what was sent is complete and its
	// answers are awaited.
	err := forEachBody(ctx, sc, uids, metas, got, nil, func(meta msgMeta, lit imap.LiteralReader) error {
		return r.appendOne(ctx, f, dc, meta, lit, p)
	})
	return got, err
}

// forEachBody runs one FETCH of the bodies of uids and calls send for each
// body that arrives after its UID, once per known UID, marking it in got
// when send succeeds. A NIL body, a body before its UID or a repeat is
// drained and skipped: the caller reads what is missing from got again
// singly. Once ctx is done no body is sent: onStop (if set) runs, the FETCH
// is aborted and the stop returned; an error of send aborts it too. It
// returns the FETCH's own outcome otherwise.
func forEachBody(ctx context.Context, sc *conn, uids []imap.UID, metas map[imap.UID]msgMeta, got map[imap.UID]bool,
	onStop func(), send func(meta msgMeta, lit imap.LiteralReader) error) error {
	fetch := sc.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				meta, ok := metas[uid]
				if it.Literal == nil || !ok || got[uid] {
					if it.Literal != nil {
						io.Copy(io.Discard, it.Literal)
					}
					continue
				}
				if ctx.Err() != nil {
					if onStop != nil {
						onStop()
					}
					abortFetch(sc, fetch)
					return stopErr(ctx)
				}
				if err := send(meta, it.Literal); err != nil {
					abortFetch(sc, fetch)
					return err
				}
				got[uid] = true
			}
		}
	}
	return fetch.Close()
}

// appendOne streams one message body into an APPEND. The literal's size
// is the source's; a body that ends early (a connection dropped inside the
// FETCH literal reads as a short body with no error) must never complete
// the APPEND, so the target connection is closed instead.
func (r *run) appendOne(ctx context.Context, f *db.Folder, dc *conn, meta msgMeta, lit imap.LiteralReader, p *pipeline) error {
	size := lit.Size()
	opts := &imap.AppendOptions{Flags: copyFlags(meta.flags), Time: meta.date}
	var cmd *imapclient.AppendCommand
	if plainFlags(opts.Flags) {
		cmd = dc.c.Append(f.Target, size, opts)
	} else {
		// A flag the target may reject with BAD: with a
		// non-synchronising literal the message's lines could then be read
		// as commands.
		cmd = dc.c.AppendSynchronizing(f.Target, size, opts)
	}
	h := sha256.New()
	rd := &endReader{r: lit}
	n, err := copyBody(io.MultiWriter(cmd, h), rd)
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d of %d bytes", errShortLiteral, n, size)
	}
	if err != nil {
		dc.c.Close()
		// go-imap's reader waits until a literal is consumed; closing the
		// source client before draining it would deadlock. A literal that
		// already ended must not be read again (go-imap's reader has moved
		// on and shares the buffer).
		if !rd.ended {
			io.Copy(io.Discard, lit)
		}
		if isNo(err) {
			// The target refused before the literal (RFC 7888 synchronising
			// literal): a bad item. The connection is unusable after that in
			// go-imap, so the caller reconnects.
			p.refuse(meta, err)
			return fmt.Errorf("target refused uid %d of %q: %w", meta.uid, f.Source, errReconnect)
		}
		return fmt.Errorf("copy uid %d of %q: %w", meta.uid, f.Source, err)
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("append to %q: %w", f.Target, err)
	}
	p.add(pending{meta: meta, cmd: cmd, size: size, sum: h.Sum(nil)})
	return nil
}

// pending is an APPEND (cmd) or a MULTIAPPEND (multi, of batch) sent and
// not yet answered.
type pending struct {
	meta  msgMeta
	cmd   *imapclient.AppendCommand
	size  int64
	sum   []byte
	multi *imapclient.MultiAppendCommand
	batch []sentMsg
	cut   bool // the batch's last message was not completed
}

type refusal struct {
	meta msgMeta
	err  error
}

// pipeline waits for APPEND answers in the background so that several
// APPENDs are in flight, and commits them in batches. It counts and commits
// the copies in m, its own copy of the move taken at start; the sender
// neither reads nor writes the move meanwhile, and finish hands m back
// (r.m = p.m) once the loop has ended.
type pipeline struct {
	r       *run
	m       model.Move // owned by the loop until finish
	f       *db.Folder
	ch      chan pending
	done    chan struct{}
	err     error      // first fatal error: connection loss, over quota, store
	mu      sync.Mutex // guards refused: both goroutines add to it
	refused []refusal
	// refusedBatches are MULTIAPPENDs the target refused as a whole;
	// written by the loop only, read after finish.
	refusedBatches []refusedBatch
	// alone are messages the batch stream left out, to go singly with a
	// synchronising literal (see plainFlags); written by the stream only.
	alone []msgMeta
	// cutQueued: the stream handed the loop a batch cut short, which the
	// loop closes in turn (with the target connection); written by the
	// stream only.
	cutQueued bool
}

func (r *run) startPipeline(ctx context.Context, f *db.Folder) *pipeline {
	p := &pipeline{r: r, m: r.m, f: f, ch: make(chan pending, r.mv.window()), done: make(chan struct{})}
	go p.loop(ctx)
	return p
}

// add hands a sent command to the loop. It waits for room even after a
// stop: the command is on the wire, and its answer must be recorded (the
// loop always drains the channel, and every Wait ends when the connection
// does).
func (p *pipeline) add(pd pending) {
	p.ch <- pd
}

// refuse records a refusal seen by the sender goroutine.
func (p *pipeline) refuse(meta msgMeta, err error) {
	p.mu.Lock()
	p.refused = append(p.refused, refusal{meta: meta, err: err})
	p.mu.Unlock()
}

// finish waits for every answer and the last commit, and gives the move's
// state, with the copies counted, back to the run.
func (p *pipeline) finish(ctx context.Context) error {
	close(p.ch)
	<-p.done
	p.r.m = p.m
	return p.err
}

func (p *pipeline) loop(ctx context.Context) {
	defer close(p.done)
	r := p.r
	// Answers that arrive after a stop are committed too: those copies are
	// real.
	dbctx := context.WithoutCancel(ctx)
	var batch []db.Copy
	last := time.Now()
	flush := func() {
		if len(batch) == 0 || p.err != nil {
			return
		}
		if err := r.mv.DB.ConfirmCopies(dbctx, p.f.ID, batch, p.m); err != nil {
			p.err = err
			return
		}
		batch, last = batch[:0], time.Now()
		r.publishMove(p.m)
		r.mv.crash("copy")
	}
	for pd := range p.ch {
		if pd.multi != nil {
			batch = p.settleBatch(pd, batch)
			if len(batch) >= 64 || time.Since(last) > 500*time.Millisecond {
				flush()
			}
			continue
		}
		data, err := pd.cmd.Wait()
		switch {
		case err == nil:
			batch = append(batch, db.Copy{SourceUID: uint32(pd.meta.uid), TargetUID: uint32(data.UID),
				State: db.CopyDone, Size: pd.size, SHA256: pd.sum})
			p.m.MsgsDone++
			p.m.BytesDone += pd.size
		case imapCode(err) == imap.ResponseCodeOverQuota:
			if p.err == nil {
				p.err = abandonf("target %s is over quota (folder %q): %v", r.dst.Name, p.f.Target, err)
			}
		case isNo(err):
			p.refuse(pd.meta, err)
		default:
			if p.err == nil {
				p.err = fmt.Errorf("append to %q: %w", p.f.Target, err)
			}
		}
		if len(batch) >= 64 || time.Since(last) > 500*time.Millisecond {
			flush()
		}
	}
	// Commit what the target confirmed even after a failure or a shutdown:
	// those copies are real, and a resume would otherwise have to find them.
	if len(batch) > 0 {
		if err := r.mv.DB.ConfirmCopies(dbctx, p.f.ID, batch, p.m); err != nil && p.err == nil {
			p.err = err
		} else if err == nil {
			r.publishMove(p.m)
		}
	}
}

// abortFetch stops a FETCH whose bodies are no longer wanted. go-imap's
// reader may be waiting for the next body to be consumed while Close waits
// for the reader: so close in the background, let fetch.Close drain what
// is queued, then wait for the close.
func abortFetch(c *conn, fetch *imapclient.FetchCommand) {
	closed := make(chan struct{})
	go func() { c.c.Close(); close(closed) }()
	fetch.Close()
	<-closed
}

// endReader records whether a read returned an error (or EOF).
type endReader struct {
	r     io.Reader
	ended bool
}

func (e *endReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil {
		e.ended = true
	}
	return n, err
}
