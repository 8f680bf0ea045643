package migrate_test

// The MULTIAPPEND copy path (chunk_batch.go) against real Dovecot targets:
// Dovecot advertises MULTIAPPEND and LITERAL+, the in-process imapmem does
// not, so the memory tests cover the single-APPEND path. Sources are
// Dovecot or imapmem (whose faults cut a FETCH literal, and which keeps
// keywords and flags Dovecot refuses).
//
// These tests change package-wide batch settings, so none runs in
// parallel: Go runs the parallel tests only after them.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

const maUser = "alice"

// maEnv is a source (imapmem or Dovecot), a target (Dovecot or Cyrus), an
// in-memory directory and a job store.
type maEnv struct {
	srcMem *imapmem.Server     // the source when it is imapmem
	srcDC  *testserver.Dovecot // the source when it is Dovecot
	dst    *testserver.Dovecot // the target, or
	dstCy  *testserver.Cyrus
	cfg    *config.Config
	dir    *directory.Mem
	db     *db.DB
}

func newMAEnv(t testing.TB, memSource bool) *maEnv {
	return newMAEnvTo(t, memSource, false)
}

func newMAEnvTo(t testing.TB, memSource, cyrusTarget bool) *maEnv {
	t.Helper()
	users := map[string]string{maUser: "pw-" + maUser}
	e := &maEnv{}
	dst := config.Server{Name: "dst", TLS: config.TLSNone, Home: testenv.DstHome, Login: config.LoginSASLPlain}
	if cyrusTarget {
		e.dstCy = testserver.StartCyrus(t, testserver.CyrusOptions{Users: users})
		dst.Address, dst.AdminUser, dst.AdminPassword = e.dstCy.Addr, e.dstCy.AdminUser, e.dstCy.AdminPassword
	} else {
		e.dst = testserver.StartDovecot(t, testserver.DovecotOptions{Users: users})
		dst.Address, dst.AdminUser, dst.AdminPassword = e.dst.Addr, e.dst.MasterUser, e.dst.MasterPassword
	}
	var src config.Server
	if memSource {
		var addr string
		e.srcMem, addr = testenv.Serve(t, imapmem.Options{Delimiter: '/'})
		e.srcMem.AddUser(maUser, "pw-"+maUser)
		src = testenv.MemServer("src", addr, testenv.SrcHome, config.LoginSASLPlain, "")
	} else {
		src = config.Server{Name: "src", TLS: config.TLSNone, Home: testenv.SrcHome}
		e.srcDC = testserver.StartDovecot(t, testserver.DovecotOptions{Users: users})
		src.Address, src.Login, src.AdminUser, src.AdminPassword = e.srcDC.Addr, config.LoginMasterUser, e.srcDC.MasterUser, e.srcDC.MasterPassword
	}
	e.dir = directory.NewMem(directory.User{DN: maDN, UID: maUser, Home: testenv.SrcHome})
	e.cfg = testenv.Config(t, src, dst)
	e.db = testenv.OpenDB(t, e.cfg.Database)
	return e
}

const maDN = "uid=alice,ou=people,dc=example,dc=org"

func (e *maEnv) mover() *migrate.Mover {
	return &migrate.Mover{Config: e.cfg, Dir: e.dir, DB: e.db, Patience: 3 * time.Second, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// srcClient and dstClient log in as the user.
func (e *maEnv) srcClient(t testing.TB) *imapclient.Client {
	if e.srcMem != nil {
		return maDial(t, e.cfg.Servers[0].Address, maUser, "pw-"+maUser)
	}
	return maDial(t, e.srcDC.Addr, e.srcDC.MasterLogin(maUser), e.srcDC.MasterPassword)
}

func (e *maEnv) dstClient(t testing.TB) *imapclient.Client {
	if e.dstCy != nil {
		c, err := imapclient.DialInsecure(e.dstCy.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Authenticate(sasl.NewPlainClient(maUser, e.dstCy.AdminUser, e.dstCy.AdminPassword)); err != nil {
			t.Fatalf("Authenticate(%s) = %v", maUser, err)
		}
		return c
	}
	return maDial(t, e.dst.Addr, e.dst.MasterLogin(maUser), e.dst.MasterPassword)
}

func maDial(t testing.TB, addr, login, pw string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(login, pw).Wait(); err != nil {
		t.Fatalf("Login(%s) = %v", login, err)
	}
	return c
}

// maCorpus makes n messages of 2-20 KB (and big ones of 1 MB at the
// indexes in big), all different, with a few flags.
func maCorpus(n int, big ...int) []testenv.Msg {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	var out []testenv.Msg
	for i := range n {
		size := 2<<10 + rng.IntN(18<<10)
		if slices.Contains(big, i) {
			size = 1 << 20
		}
		var b strings.Builder
		fmt.Fprintf(&b, "From: a@example.org\r\nTo: alice@example.org\r\nSubject: message %d\r\nMessage-ID: <m%d@example.org>\r\n\r\n", i, i)
		for b.Len() < size-80 {
			fmt.Fprintf(&b, "line %d of message %d %s\r\n", b.Len(), i, strings.Repeat("abcdefgh", 1+rng.IntN(7)))
		}
		var flags []imap.Flag
		if i%3 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%7 == 0 {
			flags = append(flags, "$label1")
		}
		out = append(out, testenv.Msg{Folder: "INBOX", Flags: flags, Date: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Body: []byte(b.String())})
	}
	return out
}

// seed stores msgs in the source INBOX in order (so UID i+1 is msgs[i]).
func (e *maEnv) seed(t testing.TB, msgs []testenv.Msg) {
	t.Helper()
	if e.srcMem != nil {
		testenv.Seed(t, e.srcMem, maUser, msgs...)
		return
	}
	c := e.srcClient(t)
	testenv.Append(t, c, msgs...)
	c.Logout().Wait()
}

// move runs a one-user job with mv and returns its move.
func (e *maEnv) move(t testing.TB, ctx context.Context, mv *migrate.Mover, job model.Job) (model.Move, error) {
	t.Helper()
	if job.Policy == "" {
		job.Policy = model.PolicyAbandon
	}
	job.Target, job.Parallel, job.CreatedBy = "dst", 1, "test"
	j, err := e.db.CreateJob(context.Background(), job, []string{maUser})
	if err != nil {
		t.Fatal(err)
	}
	moves, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(ctx, j.ID)
	if len(moves) == 0 {
		all, _ := e.db.Moves(context.Background(), j.ID)
		return all[0], err
	}
	return moves[0], err
}

// inboxCopies returns the copy records of the move's INBOX.
func (e *maEnv) inboxCopies(t testing.TB, moveID int64) map[uint32]db.Copy {
	t.Helper()
	folders, err := e.db.Folders(context.Background(), moveID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(folders, func(f db.Folder) bool { return f.Source == "INBOX" })
	if i < 0 {
		t.Fatalf("no INBOX among the move's folders %+v", folders)
	}
	copies, err := e.db.Copies(context.Background(), folders[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	return copies
}

// hashByUID reads every message of folder: UID -> SHA-256 of its bytes.
func hashByUID(t testing.TB, c *imapclient.Client, folder string) map[imap.UID][32]byte {
	t.Helper()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	out := map[imap.UID][32]byte{}
	fetch := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				h := sha256.New()
				io.Copy(h, it.Literal)
				out[uid] = [32]byte(h.Sum(nil))
			}
		}
	}
	if err := fetch.Close(); err != nil && !strings.Contains(err.Error(), "No messages") {
		t.Fatalf("Fetch(%q) = %v", folder, err)
	}
	return out
}

// batchLog records the MULTIAPPEND answers.
type batchLog struct {
	mu        sync.Mutex
	ok, msgs  int
	refusals  []error
	otherErrs int
}

func observeBatches(t testing.TB) *batchLog {
	l := &batchLog{}
	t.Cleanup(migrate.ObserveBatches(func(n int, err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		var ie *imap.Error
		switch {
		case err == nil:
			l.ok++
			l.msgs += n
		case errors.As(err, &ie):
			l.refusals = append(l.refusals, err)
		default:
			l.otherErrs++
		}
	}))
	return l
}

// TestMultiAppendFolder copies a folder from Dovecot to Dovecot
// (and to Cyrus) with MULTIAPPEND batches and with single APPENDs: the
// target holds the source's bytes, flags and dates, and each copy record's
// target UID (from APPENDUID's UID set for a batch) names the message with
// the same bytes.
func TestMultiAppendFolder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		batchMsgs int
		cyrus     bool
	}{{"multiappend", 64, false}, {"single appends", 1, false}, {"multiappend to Cyrus", 64, true}} {
		t.Run(tc.name, func(t *testing.T) {
			defer migrate.SetBatchBounds(tc.batchMsgs, 8<<20)()
			batches := observeBatches(t)
			e := newMAEnvTo(t, false, tc.cyrus)
			corpus := maCorpus(300, 10, 150, 299)
			e.seed(t, corpus)
			m, err := e.move(t, context.Background(), e.mover(), model.Job{KeepSource: true})
			if err != nil || m.State != model.MoveDone {
				t.Fatalf("move = %s (%s), %v; want done", m.State, m.Error, err)
			}
			testenv.EqualManifest(t, "target INBOX", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), testenv.Lines(corpus))
			if tc.batchMsgs > 1 {
				// 300 messages in two chunks (250 + 50): 4 + 1 batches of at most 64.
				if batches.msgs != 300 || batches.ok != 5 || len(batches.refusals)+batches.otherErrs != 0 {
					t.Errorf("MULTIAPPEND answers: %d ok of %d messages, refusals %v, %d other errors; want 5 of 300 messages",
						batches.ok, batches.msgs, batches.refusals, batches.otherErrs)
				}
			} else if batches.ok+batches.msgs != 0 {
				t.Errorf("%d MULTIAPPENDs with batching off", batches.ok)
			}
			src, dst := hashByUID(t, e.srcClient(t), "INBOX"), hashByUID(t, e.dstClient(t), "INBOX")
			copies := e.inboxCopies(t, m.ID)
			if len(copies) != len(corpus) {
				t.Fatalf("%d copy records, want %d", len(copies), len(corpus))
			}
			for _, c := range copies {
				s, d := src[imap.UID(c.SourceUID)], dst[imap.UID(c.TargetUID)]
				if c.State != db.CopyDone || c.TargetUID == 0 || s != d || [32]byte(c.SHA256) != s {
					t.Fatalf("copy %+v: source %x, target uid %d %x", c, s, c.TargetUID, d)
				}
			}
		})
	}
}

// TestMultiAppendBatchRefused: Dovecot refuses a whole batch for one
// message (an 80-byte keyword: NO; an unknown system flag: BAD, and it
// drops the connection). The batch's messages go again one by one: that
// message becomes the bad item with Dovecot's reason, every other is
// copied once.
func TestMultiAppendBatchRefused(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		flag         imap.Flag
		// MULTIAPPENDs answered OK (and their messages) and refused
		alone           bool
		ok, msgs, nobad int
	}{
		// Batches 0-63 and 128-149 stored, 64-127 refused.
		{name: "keyword too long", reason: "Keyword length too long", flag: imap.Flag(strings.Repeat("k", 80)),
			ok: 2, msgs: 150 - 64, nobad: 1},
		// A flag Dovecot may answer BAD to goes alone with a synchronising
		// literal, refused before its bytes; the batches hold the others.
		{name: "invalid system flag", reason: "Invalid system flag", flag: `\Bogus`, ok: 3, msgs: 149},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			batches := observeBatches(t)
			e := newMAEnv(t, true)
			corpus := maCorpus(150)
			const bad = 70 // in the second batch of 64
			corpus[bad].Flags = append(corpus[bad].Flags, tc.flag)
			e.seed(t, corpus)
			m, err := e.move(t, ctx, e.mover(), model.Job{Policy: model.PolicySkip, MaxBad: 1, KeepSource: true})
			if err != nil || m.State != model.MoveDone || m.Skipped != 1 {
				t.Fatalf("move = %s, %d skipped (%s), %v; want done with 1 skipped", m.State, m.Skipped, m.Error, err)
			}
			items, err := e.db.Skipped(ctx, m.ID)
			if err != nil || len(items) != 1 || items[0].UID != bad+1 || !strings.Contains(items[0].Error, tc.reason) {
				t.Fatalf("skipped = %+v, %v; want uid %d refused with %q", items, err, bad+1, tc.reason)
			}
			want := testenv.Lines(slices.Delete(slices.Clone(corpus), bad, bad+1))
			testenv.EqualManifest(t, "target INBOX", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), want)
			if batches.ok != tc.ok || batches.msgs != tc.msgs || len(batches.refusals) != tc.nobad {
				t.Errorf("MULTIAPPEND answers: %d ok (%d messages), refusals %v; want %d ok (%d messages), %d refused",
					batches.ok, batches.msgs, batches.refusals, tc.ok, tc.msgs, tc.nobad)
			}
		})
	}
}

// TestMultiAppendShortLiteral: the source connection drops inside a FETCH
// literal in the middle of a batch, which go-imap reads as a short body.
// The batch must never be completed: the target stores nothing of it.
func TestMultiAppendShortLiteral(t *testing.T) {
	const cut = 70 // message index: the second batch holds 64..127
	t.Run("every time", func(t *testing.T) {
		e := newMAEnv(t, true)
		corpus := maCorpus(150)
		e.seed(t, corpus)
		e.srcMem.Faults().CutFetch(maUser, "INBOX", cut+1, 500, -1)
		mv := e.mover()
		mv.Patience = 2 * time.Second
		m, err := e.move(t, context.Background(), mv, model.Job{KeepSource: true})
		if err != nil || m.State != model.MoveFailed {
			t.Fatalf("move = %s (%s), %v; want failed after its retries", m.State, m.Error, err)
		}
		// The first batch, and not one message of the cut one.
		testenv.EqualManifest(t, "target INBOX", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), testenv.Lines(corpus[:64]))
	})
	t.Run("once", func(t *testing.T) {
		e := newMAEnv(t, true)
		corpus := maCorpus(150)
		e.seed(t, corpus)
		e.srcMem.Faults().CutFetch(maUser, "INBOX", cut+1, 500, 1)
		m, err := e.move(t, context.Background(), e.mover(), model.Job{KeepSource: true})
		if err != nil || m.State != model.MoveDone {
			t.Fatalf("move = %s (%s), %v; want done", m.State, m.Error, err)
		}
		testenv.EqualManifest(t, "target INBOX", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), testenv.Lines(corpus))
	})
}

// TestMultiAppendStop stops a move after its first batch was confirmed.
// Batches being written end properly, no new one starts, and the answers
// to what was sent are recorded: the target holds exactly the confirmed
// copies. The resumed move then completes with every message once.
func TestMultiAppendStop(t *testing.T) {
	// Small batches and one awaited answer at a time, so that the stop
	// comes with most of the chunk still to send.
	defer migrate.SetBatchBounds(8, 8<<20)()
	e := newMAEnv(t, true)
	corpus := maCorpus(250, 100, 200)
	e.seed(t, corpus)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mv := e.mover()
	mv.Window = 1
	mv.Progress = func(m model.Move) {
		if m.Phase == model.PhaseCopy && m.MsgsDone >= 64 {
			cancel()
		}
	}
	if _, err := e.move(t, ctx, mv, model.Job{KeepSource: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunJobs() = %v, want context.Canceled", err)
	}
	moves, err := e.db.UserMoves(context.Background(), maUser)
	if err != nil || len(moves) != 1 || moves[0].State != model.MoveRunning {
		t.Fatalf("moves after the stop = %+v, %v; want one, running", moves, err)
	}
	var done []string
	sending := 0
	for _, c := range e.inboxCopies(t, moves[0].ID) {
		switch c.State {
		case db.CopyDone:
			done = append(done, testenv.Lines(corpus[c.SourceUID-1 : c.SourceUID])[0])
		case db.CopySending:
			sending++
		}
	}
	slices.Sort(done)
	t.Logf("stopped with %d copies confirmed, %d in flight", len(done), sending)
	testenv.EqualManifest(t, "target INBOX after the stop (the confirmed copies)", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), done)
	// Not necessarily whole batches of 8: a batch being written when the
	// stop came is closed with the messages it holds complete.
	if len(done) < 64 || sending == 0 || len(done)+sending != 250 {
		t.Errorf("%d copies confirmed and %d in flight, want at least the first 64 confirmed and the rest of the 250 in flight",
			len(done), sending)
	}

	moves, err = (&migrate.Runner{Mover: e.mover(), DB: e.db}).RunJobs(context.Background(), moves[0].JobID)
	if err != nil || moves[0].State != model.MoveDone {
		t.Fatalf("resumed move = %+v, %v; want done", moves, err)
	}
	testenv.EqualManifest(t, "target INBOX", testenv.Manifest(t, testenv.IMAP(e.dstClient(t)), "INBOX"), testenv.Lines(corpus))
}

// BenchmarkCopyFolderDovecot moves a folder of 300 messages of 2-20 KB and
// three of 1 MB between two Dovecots (mail_fsync = never) and reports the
// copy phase's messages per second (the median over the iterations) for
// single APPENDs and for several MULTIAPPEND batch bounds. Each iteration
// moves the folder once with every variant in turn, so that load from
// elsewhere on the machine weighs on all alike:
//
//	go test -run '^$' -bench CopyFolderDovecot -benchtime 10x ./migrate/
//
// MW_BENCH_VARIANTS="single,multi64" runs only the named variants.
func BenchmarkCopyFolderDovecot(b *testing.B) {
	corpus := maCorpus(303, 100, 200, 300)
	e := newMAEnv(b, false)
	e.seed(b, corpus)
	variants := []struct {
		name  string
		msgs  int
		bytes int64
	}{
		{"single", 1, 0},
		{"multi16", 16, 8 << 20},
		{"multi32", 32, 8 << 20},
		{"multi64", 64, 8 << 20},
		{"multi128", 128, 8 << 20},
		{"multi250", 250, 64 << 20},
		{"multi64-2MB", 64, 2 << 20},
		{"multi64-32MB", 64, 32 << 20},
	}
	// MW_BENCH_VARIANTS="single,multi64" runs only those.
	if only := os.Getenv("MW_BENCH_VARIANTS"); only != "" {
		variants = slices.DeleteFunc(variants, func(v struct {
			name  string
			msgs  int
			bytes int64
		}) bool {
			return !slices.Contains(strings.Split(only, ","), v.name)
		})
	}
	took := make([][]time.Duration, len(variants))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for v, bc := range variants {
			b.StopTimer()
			maEmptyTarget(b, e)
			restore := migrate.SetBatchBounds(bc.msgs, bc.bytes)
			var start, end time.Time
			mv := e.mover()
			mv.Progress = func(m model.Move) {
				switch {
				case m.Phase == model.PhaseCopy && start.IsZero():
					start = time.Now()
				case m.Phase == model.PhaseVerify && end.IsZero():
					end = time.Now()
				}
			}
			b.StartTimer()
			m, err := e.move(b, context.Background(), mv, model.Job{KeepSource: true})
			b.StopTimer()
			restore()
			if err != nil || m.State != model.MoveDone || m.MsgsDone != int64(len(corpus)) {
				b.Fatalf("%s: move = %s (%s), %d copied, %v", bc.name, m.State, m.Error, m.MsgsDone, err)
			}
			took[v] = append(took[v], end.Sub(start))
			if os.Getenv("MW_BENCH_LOG") != "" {
				b.Logf("%s: copy phase %v", bc.name, end.Sub(start))
			}
		}
	}
	for v, bc := range variants {
		slices.Sort(took[v])
		b.ReportMetric(float64(len(corpus))/took[v][len(took[v])/2].Seconds(), bc.name+"-msgs/s")
	}
	b.ReportMetric(0, "ns/op")
}

// maEmptyTarget removes the target's INBOX messages and homes the user on
// the source again, for the next move.
func maEmptyTarget(b *testing.B, e *maEnv) {
	c := e.dstClient(b)
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	} else if sel.NumMessages > 0 {
		all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
		if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
			b.Fatal(err)
		}
		if err := c.Expunge().Close(); err != nil {
			b.Fatal(err)
		}
	}
	c.Logout().Wait()
	if u, _ := e.dir.Lookup(context.Background(), maUser); u.Home != "src.example.org" {
		if err := e.dir.SetHome(context.Background(), maDN, u.Home, "src.example.org"); err != nil {
			b.Fatal(err)
		}
	}
}
