package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// retryRead is the second try of a message the source failed to read
// during the copy phase (docs/engine.md): one more FETCH of that message
// alone. A second failure is a bad item for the policy; a lost connection
// is not, and propagates so the move reconnects and tries again later.
func (r *run) retryRead(ctx context.Context, f *db.Folder, meta msgMeta, first error) error {
	key := fmt.Sprintf("%s\x00%d", f.Source, meta.uid)
	if r.failedOnce[key] { // the retry itself was cut short by a lost connection
		return r.badItem(ctx, f, meta, fmt.Sprintf("source read failed twice: %v", first))
	}
	r.log.Warn("message read failed, retrying", "folder", f.Source, "uid", meta.uid, "err", first)
	p := r.startPipeline(ctx, f)
	got, ferr := r.streamBodies(ctx, f, r.sc, r.dc, []imap.UID{meta.uid}, map[imap.UID]msgMeta{meta.uid: meta}, p)
	if ferr != nil && !isNo(ferr) {
		r.dc.c.Close()
	}
	if err := p.finish(ctx); err != nil {
		return err
	}
	if err := r.handleRefusals(ctx, f, p.refused); err != nil {
		return err
	}
	if ferr != nil && !isNo(ferr) {
		r.failedOnce[key] = true
		return ferr
	}
	if got[meta.uid] {
		return nil
	}
	cause := ferr
	if cause == nil {
		cause = fmt.Errorf("server returned no body")
	}
	return r.badItem(ctx, f, meta, fmt.Sprintf("source read failed twice: %v", cause))
}

// handleRefusals turns target refusals of single messages (too big, bad
// flags, ...) into bad items.
func (r *run) handleRefusals(ctx context.Context, f *db.Folder, refused []refusal) error {
	for _, rf := range refused {
		if err := r.badItem(ctx, f, rf.meta, fmt.Sprintf("target refused the message: %v", rf.err)); err != nil {
			return err
		}
	}
	return nil
}

// badItem records an item the move cannot copy and applies the policy:
// abandon the mailbox, or skip up to the job's maximum. After the directory
// update the mailbox can no longer be abandoned; the item is recorded and
// stays on the source (only verified messages are ever removed).
func (r *run) badItem(ctx context.Context, f *db.Folder, meta msgMeta, reason string) error {
	item := model.SkippedItem{MoveID: r.m.ID, Folder: f.Source, UID: uint32(meta.uid), Date: meta.date,
		Size: meta.size, Error: reason}
	if env, err := fetchEnvelope(r.sc, meta.uid); err != nil {
		// The report then lacks the subject and Message-ID, nothing more.
		r.log.Info("no envelope for a bad item", "folder", f.Source, "uid", meta.uid, "err", err)
	} else {
		item.MessageID, item.Subject = env.MessageID, env.Subject
		if !env.Date.IsZero() {
			item.Date = env.Date
		}
	}
	if err := r.mv.DB.ForgetCopies(ctx, f.ID, []uint32{uint32(meta.uid)}); err != nil {
		return err
	}
	r.log.Warn("bad item", "folder", f.Source, "uid", meta.uid, "message_id", item.MessageID, "reason", reason)
	r.event(ctx, "bad-item", fmt.Sprintf("%s uid %d: %s", f.Source, meta.uid, reason))
	// The item that makes the move abandon was not skipped: it is named in
	// the move's error, not counted or listed with the skipped ones.
	if abandon := r.abandons(f, meta, reason); abandon != nil {
		return abandon
	}
	r.m.Skipped++
	if err := r.mv.DB.AddSkipped(ctx, item, r.m); err != nil {
		return err
	}
	r.publish()
	return nil
}

// abandons returns the abandon error a bad item causes under the job's
// policy, nil when the move skips it. After the directory update the move
// no longer abandons: the item stays on the source and is skipped.
func (r *run) abandons(f *db.Folder, meta msgMeta, reason string) error {
	if !r.m.DirectoryUpdated.IsZero() {
		return nil
	}
	what := fmt.Sprintf("message uid %d in %q (%s)", meta.uid, f.Source, reason)
	if r.job.Policy != model.PolicySkip {
		return abandonf("abandoned at the first bad item: %s", what)
	}
	if r.m.Skipped+1 > r.job.MaxBad {
		return abandonf("more bad items than the %d allowed; the last: %s", r.job.MaxBad, what)
	}
	return nil
}

// fetchEnvelope reads a message's envelope for the failure report; a
// message that cannot be read often still has one. It returns an envelope
// or an error, never neither: a message gone from the folder, or a server
// that sends no envelope, is an error.
func fetchEnvelope(c *conn, uid imap.UID) (*imap.Envelope, error) {
	if c == nil {
		return nil, fmt.Errorf("no connection")
	}
	msgs, err := c.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("message uid %d is no longer in the folder", uid)
	}
	env := msgs[0].Envelope
	if env == nil {
		return nil, fmt.Errorf("the server sent no envelope for uid %d", uid)
	}
	env.MessageID = strings.Trim(env.MessageID, "<>")
	return env, nil
}

// skippedIn returns the source UIDs of a folder that the policy skipped.
func (r *run) skippedIn(ctx context.Context, folder string) (map[uint32]bool, error) {
	return r.mv.DB.SkippedUIDs(ctx, r.m.ID, folder)
}
