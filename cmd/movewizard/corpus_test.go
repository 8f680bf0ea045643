package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// corpusFolder is a folder of the seeded corpus as the user sees it: levels,
// not a server name, so that "INBOX.Archive.2023" on the source and
// "Archive/2023" on the target are the same folder.
type corpusFolder struct {
	levels []string
	n      int
}

// corpusFolders is the corpus layout: 302 messages. The counts make the copy
// phase commit at least four batches of 64 (INBOX twice, Archive and
// Archive/2023 once each), which the crash point "copy:4" needs.
func corpusFolders() []corpusFolder {
	return []corpusFolder{
		{[]string{"INBOX"}, 130},
		{[]string{"Archive"}, 66},
		{[]string{"Archive", "2023"}, 66},
		{[]string{"Reçus"}, 20},
		{[]string{"Reçus", "Été"}, 10},
		{[]string{"Sent"}, 10},
	}
}

// seedMsg is one message to append.
type seedMsg struct {
	body  []byte
	flags []imap.Flag
	date  time.Time
}

// corpus returns the deterministic messages of one user's folder: varied
// sizes, flags, keywords and dates in several zones; some without a
// Message-ID; exact duplicates; one message present in three folders; and
// in INBOX one message of 2-5 MB.
func corpus(uid string, folder int) []seedMsg {
	f := corpusFolders()[folder]
	h := fnv.New64a()
	h.Write([]byte(uid))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(folder)))
	zones := []*time.Location{time.UTC, time.FixedZone("EST", -5*3600), time.FixedZone("CEST", 2*3600), time.FixedZone("IST", 5*3600+1800)}
	flagChoices := []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDraft, "$Label1", "Work", "$Forwarded"}
	name := strings.Join(f.levels, "/")
	var msgs []seedMsg
	for i := 0; i < f.n; i++ {
		switch {
		case i == 5 && (folder == 0 || folder == 1 || folder == 5):
			// The same bytes in INBOX, Archive and Sent.
			msgs = append(msgs, seedMsg{body: sharedMessage(uid), flags: []imap.Flag{imap.FlagSeen}, date: time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)})
			continue
		case i > 0 && i%20 == 0:
			msgs = append(msgs, msgs[i-1]) // an exact duplicate, flags and date included
			continue
		case folder == 0 && i == f.n-1:
			msgs = append(msgs, seedMsg{body: bigMessage(uid, r), flags: []imap.Flag{imap.FlagSeen, "$Label1"},
				date: time.Date(2024, 1, 2, 3, 4, 5, 0, zones[1])})
			continue
		}
		var flags []imap.Flag
		for _, fl := range flagChoices {
			if r.IntN(3) == 0 {
				flags = append(flags, fl)
			}
		}
		if i%37 == 11 {
			// Deleted but not expunged by the user: still a message to move.
			flags = append(flags, imap.FlagDeleted)
		}
		date := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(3*365*24*60)) * time.Minute).
			In(zones[r.IntN(len(zones))])
		var b strings.Builder
		fmt.Fprintf(&b, "From: Sender %d <sender%d@example.net>\r\nTo: %s@example.org\r\n", r.IntN(50), r.IntN(50), uid)
		fmt.Fprintf(&b, "Subject: message %d in %s\r\nDate: %s\r\n", i, name, date.Format(time.RFC1123Z))
		if i%7 != 3 {
			fmt.Fprintf(&b, "Message-ID: <%s.%d.%d@example.net>\r\n", uid, folder, i)
		}
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		fmt.Fprintf(&b, "Grüße aus %s, Nachricht %d.\r\n", name, i)
		for n := r.IntN(40); n > 0; n-- {
			fmt.Fprintf(&b, "line %d: %x\r\n", n, r.Uint64())
		}
		msgs = append(msgs, seedMsg{body: []byte(b.String()), flags: flags, date: date.Truncate(time.Second)})
	}
	return msgs
}

func sharedMessage(uid string) []byte {
	return []byte("From: team@example.net\r\nTo: " + uid + "@example.org\r\nSubject: the same everywhere\r\n" +
		"Message-ID: <shared@example.net>\r\n\r\nfiled in three folders\r\n")
}

// bigMessage is a 2-5 MB message with a base64 attachment.
func bigMessage(uid string, r *rand.Rand) []byte {
	size := 2<<20 + r.IntN(3<<20)
	var b strings.Builder
	fmt.Fprintf(&b, "From: scanner@example.net\r\nTo: %s@example.org\r\nSubject: big scan\r\nMessage-ID: <big.%s@example.net>\r\n", uid, uid)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n")
	b.WriteString("--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 57)
	for b.Len() < size {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteString("\r\n")
	}
	b.WriteString("--b1--\r\n")
	return []byte(b.String())
}

// serverName is the name of a folder on d.
func serverName(d *testserver.Dovecot, levels []string) string {
	if len(levels) == 1 && levels[0] == "INBOX" {
		return "INBOX"
	}
	return d.Prefix + strings.Join(levels, d.Sep)
}

// viewName is the user's view of a folder name of d: levels joined by "/".
func viewName(d *testserver.Dovecot, name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return strings.Join(strings.Split(strings.TrimPrefix(name, d.Prefix), d.Sep), "/")
}

// login connects to d as uid through the master user.
func login(d *testserver.Dovecot, uid string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.Addr, err)
	}
	if err := c.Login(d.MasterLogin(uid), d.MasterPassword).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s as %s: %w", d.Addr, uid, err)
	}
	return c, nil
}

func closeClient(t *testing.T, c *imapclient.Client) {
	t.Helper()
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("Close() = %v", err)
	}
}

// seed appends the corpus of each user to d, users in parallel.
func seed(t *testing.T, d *testserver.Dovecot, uids ...string) {
	t.Helper()
	errs := make([]error, len(uids))
	var wg sync.WaitGroup
	for i, uid := range uids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = seedUser(d, uid)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("seed: %v\n%s", err, d.Log())
	}
}

func seedUser(d *testserver.Dovecot, uid string) error {
	c, err := login(d, uid)
	if err != nil {
		return err
	}
	defer c.Close()
	for i, f := range corpusFolders() {
		name := serverName(d, f.levels)
		if len(f.levels) > 1 || (f.levels[0] != "INBOX" && f.levels[0] != "Sent" && f.levels[0] != "Archive") {
			if err := c.Create(name, nil).Wait(); err != nil {
				return fmt.Errorf("%s: create %q: %w", uid, name, err)
			}
		}
		// Subscriptions are part of what a move copies.
		if err := c.Subscribe(name).Wait(); err != nil {
			return fmt.Errorf("%s: subscribe %q: %w", uid, name, err)
		}
		if err := appendAll(c, name, corpus(uid, i)); err != nil {
			return fmt.Errorf("%s: %w", uid, err)
		}
	}
	return c.Logout().Wait()
}

// appendAll sends the APPENDs of a folder a window at a time and then waits
// for their answers, which is much faster than one round trip each.
func appendAll(c *imapclient.Client, mailbox string, msgs []seedMsg) error {
	const window = 16
	for len(msgs) > 0 {
		n := min(window, len(msgs))
		var cmds []*imapclient.AppendCommand
		for _, m := range msgs[:n] {
			cmd := c.Append(mailbox, int64(len(m.body)), &imap.AppendOptions{Flags: m.flags, Time: m.date})
			if _, err := cmd.Write(m.body); err != nil {
				return fmt.Errorf("append to %q: %w", mailbox, err)
			}
			if err := cmd.Close(); err != nil {
				return fmt.Errorf("append to %q: %w", mailbox, err)
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			if _, err := cmd.Wait(); err != nil {
				return fmt.Errorf("append to %q: %w", mailbox, err)
			}
		}
		msgs = msgs[n:]
	}
	return nil
}

// manifest returns, per folder of uid on d in the user's view, its
// testenv.Manifest: the sorted multiset of "sha256(body)|flags|INTERNALDATE(UTC)",
// \Recent left out.
// Every selectable folder is listed, empty ones too.
func manifest(t *testing.T, d *testserver.Dovecot, uid string) map[string][]string {
	t.Helper()
	c, err := login(d, uid)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	defer closeClient(t, c)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("manifest: List() = %v", err)
	}
	out := map[string][]string{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		key := viewName(d, b.Mailbox)
		if _, dup := out[key]; dup {
			t.Fatalf("manifest: two folders of %s on %s are %q in the user's view", uid, d.Addr, key)
		}
		out[key] = testenv.Manifest(t, testenv.IMAP(c), b.Mailbox)
	}
	return out
}

// diffManifests describes how got differs from want, folder by folder:
// entries missing and entries extra (duplicates count), "" when equal.
func diffManifests(got, want map[string][]string) string {
	var b strings.Builder
	var folders []string
	for f := range want {
		folders = append(folders, f)
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			folders = append(folders, f)
		}
	}
	slices.Sort(folders)
	for _, f := range folders {
		g, gok := got[f]
		w, wok := want[f]
		switch {
		case !gok:
			fmt.Fprintf(&b, "folder %q missing (want %d messages)\n", f, len(w))
			continue
		case !wok:
			fmt.Fprintf(&b, "folder %q unexpected (%d messages)\n", f, len(g))
			continue
		}
		count := map[string]int{}
		for _, e := range w {
			count[e]++
		}
		for _, e := range g {
			count[e]--
		}
		missing, extra := 0, 0
		var examples []string
		for e, n := range count {
			if n > 0 {
				missing += n
			} else if n < 0 {
				extra -= n
			}
			if n != 0 && len(examples) < 3 {
				examples = append(examples, fmt.Sprintf("%+d× %s", -n, e))
			}
		}
		if missing > 0 || extra > 0 {
			slices.Sort(examples)
			fmt.Fprintf(&b, "folder %q: %d messages, want %d: %d missing, %d extra (e.g. %s)\n",
				f, len(g), len(w), missing, extra, strings.Join(examples, "; "))
		}
	}
	return b.String()
}

// messageCounts returns the folders of uid on d that hold messages, with
// their counts.
func messageCounts(t *testing.T, d *testserver.Dovecot, uid string) map[string]uint32 {
	t.Helper()
	c, err := login(d, uid)
	if err != nil {
		t.Fatalf("messageCounts: %v", err)
	}
	defer closeClient(t, c)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("messageCounts: List() = %v", err)
	}
	out := map[string]uint32{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		st, err := c.Status(b.Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("messageCounts: Status(%q) = %v", b.Mailbox, err)
		}
		if st.NumMessages != nil && *st.NumMessages > 0 {
			out[b.Mailbox] = *st.NumMessages
		}
	}
	return out
}

// subscriptions returns the subscribed folders of uid on d in the user's
// view.
func subscriptions(t *testing.T, d *testserver.Dovecot, uid string) map[string]bool {
	t.Helper()
	c, err := login(d, uid)
	if err != nil {
		t.Fatalf("subscriptions: %v", err)
	}
	defer closeClient(t, c)
	boxes, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("subscriptions: List(SUBSCRIBED) = %v", err)
	}
	out := map[string]bool{}
	for _, b := range boxes {
		out[viewName(d, b.Mailbox)] = true
	}
	return out
}
