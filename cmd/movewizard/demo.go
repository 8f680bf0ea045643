package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/imapmem"
)

// demoUsers are the demo mailboxes; the ones with unreadable items show
// the error policy at work.
var demoUsers = []struct {
	uid, name  string
	messages   int
	unreadable int
}{
	{"ann", "Ann Archer", 200, 0},
	{"bob", "Bob Baker", 150, 0},
	{"carol", "Carol Clark", 300, 0},
	{"dave", "Dave Dunn", 120, 2},
	{"erin", "Erin Evans", 180, 0},
	{"frank", "Frank Fisher", 90, 1},
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("database", "", "SQLite database file (default: a new one in a temporary folder)")
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard demo [flags]\n\n"+
			"Runs the product with nothing installed: two in-process IMAP servers with demo\n"+
			"mailboxes (nested and non-ASCII folders, flags, a large message, some unreadable\n"+
			"items), an in-memory directory, and a job that moves every demo mailbox with the\n"+
			"same mover and runner as production.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "movewizard-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "demo.db")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	east := imapmem.New(imapmem.Options{AdminUser: "admin", AdminPassword: "demo-admin", Delimiter: '.'})
	west := imapmem.New(imapmem.Options{AdminUser: "admin", AdminPassword: "demo-admin", Delimiter: '/'})
	eastAddr, err := east.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer east.Close()
	westAddr, err := west.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer west.Close()
	var users []migrate.User
	for _, u := range demoUsers {
		if err := seedDemoMailbox(east, west, u.uid, u.messages, u.unreadable); err != nil {
			return fmt.Errorf("seed %s: %w", u.uid, err)
		}
		users = append(users, migrate.User{DN: "uid=" + u.uid + ",ou=people,dc=demo,dc=example", UID: u.uid,
			Name: u.name, Mail: u.uid + "@demo.example", Home: "east.demo.example"})
	}
	cfg := &migrate.Config{Database: *dbPath, Mode: migrate.ModeNative, MaxParallel: 30,
		Directory: migrate.DirectoryConfig{HomeAttribute: "mailHost"},
		Servers: []migrate.ServerConfig{
			{Name: "east", Address: eastAddr, TLS: migrate.TLSNone, Home: "east.demo.example", Group: "demo",
				Login: migrate.LoginSASLPlain, AdminUser: "admin", AdminPassword: "demo-admin"},
			{Name: "west", Address: westAddr, TLS: migrate.TLSNone, Home: "west.demo.example", Group: "demo",
				Login: migrate.LoginMasterUser, AdminUser: "admin", AdminPassword: "demo-admin"},
		}}
	release, err := db.Lock(cfg.Database)
	if err != nil {
		return err
	}
	defer release()
	store, err := db.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	e := &env{cfg: cfg, db: store, dir: migrate.NewMemDirectory(users...), log: log, release: func() {}, last: map[int64]string{}}
	fmt.Fprintf(stdout, "demo: IMAP server east on %s (separator \".\"), west on %s (separator \"/\")\n", eastAddr, westAddr)
	fmt.Fprintf(stdout, "demo: database %s\n", cfg.Database)
	var uids []string
	for _, u := range demoUsers {
		uids = append(uids, u.uid)
	}
	job, err := store.CreateJob(ctx, db.Job{CreatedBy: "demo", Target: "west", Policy: db.PolicySkip,
		MaxBad: 1, Parallel: 4}, uids)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: job %d moves %d mailboxes from east to west, skipping at most 1 unreadable item per mailbox\n\n",
		job.ID, len(uids))
	err = e.runJobs(ctx, []int64{job.ID}, stdout)
	fmt.Fprintln(stdout, "\ndemo: dave has 2 unreadable items, more than the policy allows: abandoned, his mailbox stays on east untouched.")
	fmt.Fprintln(stdout, "demo: frank has 1 unreadable item: skipped and reported, it stays on east; the rest moved.")
	var ee *exitError
	if errors.As(err, &ee) && ee.code == 1 {
		return nil // the abandoned mailbox is the point of the demo
	}
	return err
}

// seedDemoMailbox fills one user's mailbox on the source with a realistic
// mix and creates the user (with the usual special-use folders) on the
// target.
func seedDemoMailbox(src, dst *imapmem.Server, uid string, n, unreadable int) error {
	rng := rand.New(rand.NewPCG(uint64(len(uid)), uint64(n)))
	for _, s := range []*imapmem.Server{src, dst} {
		s.AddUser(uid, "demo-"+uid)
		for _, f := range []struct {
			name string
			use  imap.MailboxAttr
		}{{"Sent", imap.MailboxAttrSent}, {"Drafts", imap.MailboxAttrDrafts}, {"Trash", imap.MailboxAttrTrash}} {
			if err := s.CreateMailbox(uid, f.name, f.use); err != nil {
				return err
			}
		}
	}
	folders := []string{"INBOX", "INBOX", "INBOX", "Sent", "Archive", "Archive.2023", "Reçus", "Reçus.Été", "Projects <Q&A>"}
	for _, f := range folders[4:] {
		if err := src.CreateMailbox(uid, f, ""); err != nil {
			return err
		}
	}
	var bad []imap.UID
	for i := 0; i < n; i++ {
		folder := folders[rng.IntN(len(folders))]
		var flags []imap.Flag
		if rng.IntN(3) > 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if rng.IntN(10) == 0 {
			flags = append(flags, imap.FlagFlagged, "$Label1")
		}
		date := time.Date(2015+rng.IntN(10), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), 0, 0, time.UTC)
		body := demoMessage(uid, i, date, rng)
		msgUID, err := src.AddMessage(uid, folder, flags, date, body)
		if err != nil {
			return err
		}
		if folder == "INBOX" && len(bad) < unreadable {
			bad = append(bad, msgUID)
			src.Faults().FailFetch(uid, "INBOX", msgUID, -1)
		}
	}
	// One large message, streamed like any other.
	big := demoMessage(uid, n, time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), rng)
	big = append(big, []byte(strings.Repeat("large attachment line, base64 in real life............\r\n", 90000))...)
	_, err := src.AddMessage(uid, "Archive", []imap.Flag{imap.FlagSeen}, time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), big)
	return err
}

var demoSubjects = []string{"Quarterly report", "Lunch on Friday?", "Re: server migration", "Été à Paris",
	"<b>Invoice</b> #4711", "Meeting notes", "Fwd: holiday photos", "Ticket 12345 updated"}

func demoMessage(uid string, i int, date time.Time, rng *rand.Rand) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: colleague%d@demo.example\r\nTo: %s@demo.example\r\n", rng.IntN(20), uid)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\n", demoSubjects[rng.IntN(len(demoSubjects))], date.Format(time.RFC1123Z))
	if rng.IntN(30) > 0 { // a few have no Message-ID, as in real mailboxes
		fmt.Fprintf(&b, "Message-ID: <%s.%d@demo.example>\r\n", uid, i)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for l := 0; l < 5+rng.IntN(60); l++ {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit — ça va très bien.\r\n")
	}
	return []byte(b.String())
}
