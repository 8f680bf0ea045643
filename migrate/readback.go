package migrate

import (
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

// readBack verifies the bytes of copied folders in the background, on a
// connection of its own to the target, while the copy goes on with the
// next folder. It only records copies whose bytes match (MarkVerified);
// anything else (a difference, an error, a stop) is left to the verify
// phase, which checks every copy not yet marked and decides. So it never
// touches the move's state, its connections or the target's content.
type readBack struct {
	r    *run
	ch   chan db.Folder
	done chan struct{}
}

func (r *run) startReadBack(ctx context.Context) *readBack {
	rb := &readBack{r: r, ch: make(chan db.Folder, 64), done: make(chan struct{})}
	go rb.loop(ctx)
	return rb
}

// add queues a folder whose copy finished. It never blocks the copy: a
// folder that does not fit is left to the verify phase.
func (rb *readBack) add(f db.Folder) {
	if f.NoSelect {
		return
	}
	select {
	case rb.ch <- f:
	default:
	}
}

// stop waits for the folders queued so far.
func (rb *readBack) stop() {
	close(rb.ch)
	<-rb.done
}

func (rb *readBack) loop(ctx context.Context) {
	defer close(rb.done)
	r := rb.r
	var dc *conn
	defer func() {
		if dc != nil {
			r.live.remove(dc)
			dc.Close()
		}
	}()
	failed := false
	for f := range rb.ch {
		if failed || ctx.Err() != nil {
			continue // drain; the verify phase does the rest
		}
		if dc == nil {
			var err error
			if dc, err = r.dial(ctx, r.dst); err != nil {
				r.log.Info("read-back in the background unavailable", "err", err)
				failed = true
				continue
			}
		}
		if err := rb.folder(ctx, dc, f); err != nil {
			r.log.Info("read-back in the background stopped", "folder", f.Source, "err", err)
			failed = true
		}
	}
}

// folder hashes the target's copies of f not yet verified and records
// those equal to the source's bytes.
func (rb *readBack) folder(ctx context.Context, dc *conn, f db.Folder) error {
	r := rb.r
	copies, err := r.mv.DB.Copies(ctx, f.ID)
	if err != nil {
		return err
	}
	var todo []db.Copy
	for _, c := range copies {
		if c.State == db.CopyDone && !c.Verified && c.TargetUID != 0 {
			todo = append(todo, c)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	sel, err := dc.c.Select(f.Target, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("examine target %q: %w", f.Target, err)
	}
	if sel.UIDValidity != f.TargetUIDValidity {
		return nil // the verify phase starts the folder over
	}
	// Differences are the verify phase's to handle.
	if _, _, err := r.readBackCopies(ctx, dc, &f, todo); err != nil {
		return err
	}
	return unselect(dc)
}
