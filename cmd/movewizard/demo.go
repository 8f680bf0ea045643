package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
)

// demoPeople are the demo mailboxes on east; the ones with unreadable
// items show the error policy at work. More users are generated.
var demoPeople = []struct {
	uid, name  string
	messages   int
	unreadable int
	big        bool
}{
	{"ann", "Ann Archer", 200, 0, true},
	{"bob", "Bob Baker", 150, 0, false},
	{"carol", "Carol Clark", 300, 0, false},
	{"dave", "Dave Dunn", 120, 2, false},
	{"erin", "Erin Evans", 180, 0, false},
	{"frank", "Frank Fisher", 90, 1, false},
	{"gina", "Gina <Green>", 60, 0, false},
	{"henri", "Henri Hébert", 100, 0, false},
}

// demoEnv is the demo's in-process world.
type demoEnv struct {
	servers []*imapmem.Server
	cfg     *config.Config
	dir     *directory.Mem
	auth    *directory.MemAuth
}

func (d *demoEnv) Close() {
	for _, s := range d.servers {
		s.Close()
	}
}

// demoPace is the demo servers' default pace in KiB/s per connection: the
// largest demo mailbox (ann, 5 MiB, copied then read back for verification)
// takes about a minute, the others a few seconds.
const demoPace = 256

// startDemo starts three IMAP servers (east and west in group hq, north in
// group branch, mode mixed so the wizard shows an ineligible target), seeds
// about 25 mailboxes and builds the directory and the sign-ins.
func startDemo(dbPath, listen string, pace int64) (*demoEnv, error) {
	d := &demoEnv{auth: directory.NewMemAuth()}
	specs := []struct {
		name, group string
		delim       rune
		login       string
	}{{"east", "hq", '.', config.LoginSASLPlain}, {"west", "hq", '/', config.LoginMasterUser}, {"north", "branch", '/', config.LoginSASLPlain}}
	d.cfg = &config.Config{Database: dbPath, Mode: config.ModeMixed, MaxParallel: 30, Listen: listen,
		RetryPatience: time.Minute, Directory: config.Directory{HomeAttribute: "mailHost"}}
	for _, sp := range specs {
		s := imapmem.New(imapmem.Options{AdminUser: "admin", AdminPassword: "demo-admin", Delimiter: sp.delim, Pace: pace})
		addr, err := s.Listen("127.0.0.1:0")
		if err != nil {
			d.Close()
			return nil, err
		}
		d.servers = append(d.servers, s)
		d.cfg.Servers = append(d.cfg.Servers, config.Server{Name: sp.name, Address: addr, TLS: config.TLSNone,
			Home: sp.name + ".demo.example", Group: sp.group, Login: sp.login, AdminUser: "admin", AdminPassword: "demo-admin",
			MaxParallel: 8})
	}
	type person struct {
		uid, name, home      string
		messages, unreadable int
		big                  bool
		on                   int
	}
	var people []person
	for _, p := range demoPeople {
		people = append(people, person{p.uid, p.name, "east", p.messages, p.unreadable, p.big, 0})
	}
	for i := 1; i <= 12; i++ {
		people = append(people, person{fmt.Sprintf("staff%02d", i), fmt.Sprintf("Staff Member %d", i), "east", 40 + 10*i, 0, false, 0})
	}
	for i := 1; i <= 5; i++ {
		people = append(people, person{fmt.Sprintf("branch%02d", i), fmt.Sprintf("Branch Person %d", i), "west", 50, 0, false, 1})
	}
	var users []directory.User
	for _, p := range people {
		if err := seedDemoMailbox(d.servers, p.on, p.uid, p.messages, p.unreadable, p.big); err != nil {
			d.Close()
			return nil, fmt.Errorf("seed %s: %w", p.uid, err)
		}
		users = append(users, directory.User{DN: "uid=" + p.uid + ",ou=people,dc=demo,dc=example", UID: p.uid,
			Name: p.name, Mail: p.uid + "@demo.example", Home: p.home + ".demo.example"})
	}
	// Someone whose directory entry names a server that is not registered.
	users = append(users, directory.User{DN: "uid=olduser,ou=people,dc=demo,dc=example", UID: "olduser",
		Name: "Old User", Mail: "olduser@demo.example", Home: "retired.demo.example"})
	d.dir = directory.NewMem(users...)
	d.dir.SetGroup("wave1", "ann", "bob", "carol")
	d.dir.SetGroup("wave2", "dave", "erin", "frank", "gina", "henri")
	d.auth.Add("alice", "Alice Admin", "alice-demo", model.RoleAdmin)
	d.auth.Add("hank", "Hank Helpdesk", "hank-demo", model.RoleHelpdesk)
	return d, nil
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("database", "", "SQLite database file (default: a new one in a temporary folder)")
	listen := fs.String("listen", "127.0.0.1:8080", "address of the web UI (port 0: any free port)")
	verbose := fs.Bool("v", false, "log every step to stderr")
	pace := fs.Int64("pace", demoPace, "KiB per second each IMAP connection of the demo servers carries, so that rates, ETAs\nand cancelling can be watched (0: as fast as the machine goes)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard demo [flags]\n\n"+
			"Runs the whole product with nothing installed: three in-process IMAP servers with\n"+
			"about 25 demo mailboxes (nested and non-ASCII folders, flags, large messages, some\n"+
			"unreadable items), an in-memory directory, SQLite in a temporary folder, and the web\n"+
			"UI with the same runner, mover and pages as production. Stop it with Ctrl-C.\n\n")
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
	if *pace < 0 || *pace > 1<<30 {
		return &exitError{code: 2, err: fmt.Errorf("-pace %d: want 0 (no limit) or a number of KiB per second", *pace)}
	}
	demo, err := startDemo(*dbPath, *listen, *pace*1024)
	if err != nil {
		return err
	}
	defer demo.Close()
	release, err := db.Lock(*dbPath)
	if err != nil {
		return err
	}
	defer release()
	store, err := db.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s: %w (try -listen 127.0.0.1:0)", *listen, err)}
	}
	fmt.Fprintf(stdout, "Move Mailbox Wizard demo: http://%s/\n", ln.Addr())
	fmt.Fprintf(stdout, "  admin login:    alice / alice-demo\n")
	fmt.Fprintf(stdout, "  helpdesk login: hank / hank-demo\n")
	fmt.Fprintf(stdout, "  IMAP servers:   east %s (\".\"), west %s (\"/\"), north %s (group branch)\n",
		demo.cfg.Servers[0].Address, demo.cfg.Servers[1].Address, demo.cfg.Servers[2].Address)
	fmt.Fprintf(stdout, "  dave and frank have unreadable items; olduser lives on an unregistered server\n")
	fmt.Fprintf(stdout, "  database:       %s\n", *dbPath)
	if *pace > 0 {
		fmt.Fprintf(stdout, "  pace:           %d KiB/s per IMAP connection (-pace 0: full speed)\n", *pace)
	}
	svc := service{cfg: demo.cfg, store: store, dir: demo.dir, auth: demo.auth, log: log}
	return svc.run(ctx, ln, nil)
}

// seedDemoMailbox fills one user's mailbox on the source with a realistic
// mix and creates the user (with the usual special-use folders) on the
// target.
func seedDemoMailbox(servers []*imapmem.Server, on int, uid string, n, unreadable int, big bool) error {
	rng := rand.New(rand.NewPCG(uint64(len(uid)), uint64(n)))
	src := servers[on]
	for _, s := range servers {
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
	if !big {
		return nil
	}
	// One large message, streamed like any other.
	large := demoMessage(uid, n, time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), rng)
	large = append(large, []byte(strings.Repeat("large attachment line, base64 in real life............\r\n", 90000))...)
	_, err := src.AddMessage(uid, "Archive", []imap.Flag{imap.FlagSeen}, time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), large)
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
