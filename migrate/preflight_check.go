package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
)

// checkTimeout bounds one user's preflight, so that a server that stops
// answering cannot hold the wizard's summary page forever.
const checkTimeout = 45 * time.Second

// MoveCheck is the wizard's preflight result for one user: what a move of
// this mailbox to the target would find. Problems are short sentences fit
// for the page; none of them holds a credential.
type MoveCheck struct {
	UID      string
	Name     string // the directory's cn; "" when the user is unknown
	Home     string // the directory's home attribute value
	Source   string // registered server holding the mailbox; "" if none
	Target   string
	Messages int64 // on the source, over all personal folders
	Bytes    int64
	Folders  int
	// QuotaLimit and QuotaUsed are the target's STORAGE quota in bytes,
	// when the target reports one (RFC 9208); QuotaLimit 0 means none.
	QuotaLimit int64
	QuotaUsed  int64
	Measured   bool // Messages and Bytes were read from the source
	// AlreadyThere: the directory already names the target; the move will
	// end already-there without copying.
	AlreadyThere bool
	Errors       []string // problems that make the move fail
	Warnings     []string // things the admin should know; the move still runs
	// Notes say how the result may differ from the source without being a
	// problem: folder names the target may refuse and the move would then
	// create under look-alike names.
	Notes []string
}

// OK reports whether the move is expected to work.
func (c MoveCheck) OK() bool { return len(c.Errors) == 0 }

func (c *MoveCheck) errorf(format string, args ...any) {
	c.Errors = append(c.Errors, fmt.Sprintf(format, args...))
}

// CheckMove runs the preflight of a move of uid to the target server named
// target without changing anything: the user is in the directory, lives on
// a registered server from which the mode allows moving to target, the
// source accepts the admin login for the user (and the mailbox is
// measured), the target accepts it too, and the target's quota, if it
// reports one, can hold the mailbox. Every problem found is reported, not
// only the first, except where a later check cannot run.
func CheckMove(ctx context.Context, cfg *config.Config, dir directory.Directory, uid, target string) MoveCheck {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	c := MoveCheck{UID: uid, Target: target}
	u, err := dir.Lookup(ctx, uid)
	e := cfg.CanMove(u.Home, target)
	if e.Verdict == config.UnknownTarget {
		c.errorf("The %s.", e.Reason())
		// The user's side is checked all the same, so that every problem
		// is reported.
		e = cfg.CanMove(u.Home, "")
	}
	switch {
	case errors.Is(err, directory.ErrNotFound):
		c.errorf("No user %q in the directory.", uid)
		return c
	case err != nil:
		c.errorf("The directory could not be searched for %q: %v.", uid, err)
		return c
	}
	c.Name, c.Home = u.Name, u.Home
	dst := e.Target
	switch e.Verdict {
	case config.NoHome:
		c.errorf("The user has %s.", e.Reason())
		return c
	case config.UnknownHome:
		c.errorf("The user's %s.", e.Reason())
		return c
	case config.AlreadyThere:
		c.AlreadyThere = true
		c.Warnings = append(c.Warnings, fmt.Sprintf("The mailbox already is on %s; nothing will be moved.", dst.Name))
	case config.OtherGroup:
		c.errorf("Cannot move from %s to %s: %s.", e.Source.Name, dst.Name, e.Reason())
	}
	src := e.Source
	c.Source = src.Name
	odd, err := c.measureSource(ctx, src)
	if err != nil {
		c.errorf("Source %s: %v.", src.Name, err)
	}
	if dst.Name != "" && src.Name != dst.Name {
		if err := c.checkTarget(ctx, dst); err != nil {
			c.errorf("Target %s: %v.", dst.Name, err)
		}
		if n := renameNote(odd); n != "" {
			c.Notes = append(c.Notes, n)
		}
	}
	return c
}

// maxRenameNames bounds the folder names one rename note lists.
const maxRenameNames = 5

// renameNote tells the admin which folders may get another name on the
// target. IMAP has no way to ask a server which names it accepts, so this
// is the list of names with characters some servers are known to refuse;
// the move finds out at the CREATE, renames what is refused, and records
// each rename.
func renameNote(names []string) string {
	if len(names) == 0 {
		return ""
	}
	quoted := make([]string, 0, maxRenameNames)
	for _, n := range names[:min(len(names), maxRenameNames)] {
		quoted = append(quoted, strconv.Quote(n))
	}
	list := strings.Join(quoted, ", ")
	if more := len(names) - len(quoted); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	what := "1 folder name has"
	if len(names) > 1 {
		what = fmt.Sprintf("%d folder names have", len(names))
	}
	return fmt.Sprintf("%s characters that some servers refuse (%s; e.g. Cyrus), so they may be renamed with look-alike characters on the target, and the report will say so: %s.",
		what, refusedChars, list)
}

// measureSource logs in as the user and adds up messages and bytes of the
// personal folders: STATUS (MESSAGES SIZE) where the server has STATUS=SIZE
// (RFC 8438), else EXAMINE and the sum of RFC822.SIZE. It returns the
// folder names that a target may refuse (Hierarchy.MayBeRefused).
func (c *MoveCheck) measureSource(ctx context.Context, s config.Server) (odd []string, err error) {
	sc, err := dial(ctx, s, c.UID)
	if err != nil {
		return nil, loginProblem(ctx, err)
	}
	defer sc.Close()
	boxes, err := listFolders(sc)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	for _, b := range boxes {
		if !hasAttr(b.Attrs, imap.MailboxAttrNonExistent) && sc.h.MayBeRefused(b.Mailbox) {
			odd = append(odd, b.Mailbox)
		}
	}
	withSize := sc.caps.Has(imap.CapStatusSize)
	for _, b := range boxes {
		if hasAttr(b.Attrs, imap.MailboxAttrNoSelect) || hasAttr(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		msgs, size, err := folderSize(sc, b.Mailbox, withSize)
		if err != nil {
			return odd, ctxErr(ctx, err)
		}
		c.Folders++
		c.Messages += msgs
		c.Bytes += size
	}
	c.Measured = true
	return odd, nil
}

func folderSize(sc *conn, name string, withSize bool) (msgs, size int64, err error) {
	if withSize {
		st, err := sc.c.Status(name, &imap.StatusOptions{NumMessages: true, Size: true}).Wait()
		if err != nil {
			return 0, 0, fmt.Errorf("status of %q: %w", name, err)
		}
		if st.NumMessages != nil {
			msgs = int64(*st.NumMessages)
		}
		if st.Size != nil {
			size = *st.Size
		}
		return msgs, size, nil
	}
	sel, err := sc.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("examine %q: %w", name, err)
	}
	if sel.NumMessages == 0 {
		return 0, 0, nil
	}
	fetch := sc.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{RFC822Size: true})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		buf, err := msg.Collect()
		if err != nil {
			fetch.Close()
			return 0, 0, fmt.Errorf("sizes in %q: %w", name, err)
		}
		msgs++
		size += buf.RFC822Size
	}
	if err := fetch.Close(); err != nil {
		return 0, 0, fmt.Errorf("sizes in %q: %w", name, err)
	}
	return msgs, size, nil
}

// checkTarget logs in to the target as the user and reads the quota of
// INBOX's quota root, which the copy would fill.
func (c *MoveCheck) checkTarget(ctx context.Context, s config.Server) error {
	dc, err := dial(ctx, s, c.UID)
	if err != nil {
		return loginProblem(ctx, err)
	}
	defer dc.Close()
	q, err := storageQuota(dc)
	if err != nil {
		return ctxErr(ctx, err)
	}
	if q.Limit <= 0 {
		return nil
	}
	c.QuotaLimit, c.QuotaUsed = q.Limit, q.Usage
	if c.Measured && c.Bytes > q.Free() {
		return fmt.Errorf("quota too small: %d KiB to copy, %d KiB free of %d KiB",
			(c.Bytes+1023)/1024, max(q.Free()/1024, 0), q.Limit/1024)
	}
	return nil
}

// loginProblem shortens a failed dial to what the admin can act on.
func loginProblem(ctx context.Context, err error) error {
	err = ctxErr(ctx, err)
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("no answer in time")
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		text := strings.TrimSpace(ie.Text)
		if ie.Code != "" {
			text = "[" + string(ie.Code) + "] " + text
		}
		return fmt.Errorf("the admin login for the user was refused (%s)", text)
	}
	return err
}
