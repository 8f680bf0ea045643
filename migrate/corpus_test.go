package migrate_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// The integration corpus: a deterministic mailbox per user, generated in Go
// so that nothing large is stored in the repository. It holds what real
// mailboxes hold and what breaks naive copiers: exact duplicates, shared
// and missing Message-IDs, \Deleted messages, keywords, old dates in odd
// zones, 8-bit headers, markup in subjects and folder names.

// itFolderSpec is one folder of the corpus, as hierarchy levels (the name
// on a server depends on its separator and prefix, see itName).
type itFolderSpec struct {
	levels    []string
	subscribe bool
	count     int // messages generated into it
}

// itMsg is one message to APPEND.
type itMsg struct {
	levels []string
	flags  []imap.Flag
	date   time.Time
	body   []byte
}

// itCorpusOptions varies the corpus between tests.
type itCorpusOptions struct {
	// sep is the source's separator. Dovecot's maildir++ refuses '/' in a
	// name on a '.' server and '.' on a '/' server, so the <script> folder
	// (which contains '/') exists only on '/' sources, where it is two
	// levels, and no name can hold the other server's separator.
	sep   string
	inbox int   // INBOX size (default 40)
	big   int64 // > 0: one message of about this many bytes in INBOX
}

// itMarkupFolder is accepted by Dovecot with either separator.
const itMarkupFolder = "<img src=x onerror=alert(1)>"

// itFolders lists the corpus folders, parents before children.
func itFolders(o itCorpusOptions) []itFolderSpec {
	inbox := o.inbox
	if inbox == 0 {
		inbox = 40
	}
	fs := []itFolderSpec{
		{levels: []string{"INBOX"}, subscribe: true, count: inbox},
		{levels: []string{"Sent"}, subscribe: true, count: 15},
		{levels: []string{"Drafts"}, count: 4},
		{levels: []string{"Trash"}, count: 6},
		{levels: []string{"Archive"}, subscribe: true, count: 8},
		{levels: []string{"Reçus"}, count: 8},
		{levels: []string{"Client Projects"}, subscribe: true, count: 8},
		{levels: []string{"Q&A"}, subscribe: true, count: 5},
		{levels: []string{itMarkupFolder}, count: 4},
		{levels: []string{"Empty"}, subscribe: true},
		{levels: []string{"Archive", "2023"}, subscribe: true, count: 10},
		{levels: []string{"Archive", "2024"}, count: 10},
		{levels: []string{"Reçus", "Été"}, subscribe: true, count: 6},
	}
	if o.sep == "/" {
		fs = append(fs, itFolderSpec{levels: strings.Split("<script>alert(1)</script>", "/"), subscribe: true, count: 3})
	}
	return fs
}

// itName is the full name of levels on a server with this separator and
// personal namespace prefix.
func itName(levels []string, sep, prefix string) string {
	if len(levels) == 1 && levels[0] == "INBOX" {
		return "INBOX"
	}
	return prefix + strings.Join(levels, sep)
}

// itZones are INTERNALDATE zones, including the odd ones (+05:45, +13:45).
var itZones = []*time.Location{
	time.UTC,
	time.FixedZone("", -12*3600),
	time.FixedZone("", -8*3600),
	time.FixedZone("", -(3*3600 + 30*60)),
	time.FixedZone("", 3600),
	time.FixedZone("", 5*3600+30*60),
	time.FixedZone("", 5*3600+45*60),
	time.FixedZone("", 9*3600),
	time.FixedZone("", 13*3600+45*60),
	time.FixedZone("", 14*3600),
}

// itCorpus generates the messages of one user. The same user and options
// always give the same bytes, flags and dates.
func itCorpus(user string, o itCorpusOptions) []itMsg {
	h := fnv.New64a()
	h.Write([]byte(user))
	rng := rand.New(rand.NewPCG(h.Sum64(), 42))
	var msgs []itMsg
	n := 0
	for _, f := range itFolders(o) {
		for i := 0; i < f.count; i++ {
			n++
			m := itMsg{levels: f.levels, flags: itFlags(rng, f.levels, n), date: itDate(rng)}
			m.body = itBody(rng, user, strings.Join(f.levels, "/"), n, m.date)
			msgs = append(msgs, m)
		}
	}
	// Exact duplicates: same bytes, flags and date, twice more in INBOX and
	// once in Archive. Identity is the source UID, so all must arrive.
	dup := msgs[3]
	msgs = append(msgs, dup, dup)
	arch := dup
	arch.levels = []string{"Archive"}
	msgs = append(msgs, arch)
	if o.big > 0 {
		msgs = append(msgs, itMsg{levels: []string{"INBOX"}, flags: []imap.Flag{imap.FlagSeen, "$Label1"},
			date: time.Date(2024, 2, 29, 23, 59, 59, 0, itZones[8]), body: itBigBody(user, o.big)})
	}
	return msgs
}

// itFlags gives every flag and keyword some messages; every 17th message is
// \Deleted (never expunged by a correct move) and Drafts are \Draft.
func itFlags(rng *rand.Rand, levels []string, n int) []imap.Flag {
	var fl []imap.Flag
	add := func(p float64, f imap.Flag) {
		if rng.Float64() < p {
			fl = append(fl, f)
		}
	}
	add(0.6, imap.FlagSeen)
	add(0.2, imap.FlagAnswered)
	add(0.15, imap.FlagFlagged)
	if levels[0] == "Drafts" {
		fl = append(fl, imap.FlagDraft)
	} else {
		add(0.05, imap.FlagDraft)
	}
	if n%17 == 0 {
		fl = append(fl, imap.FlagDeleted)
	}
	add(0.1, "$Forwarded")
	add(0.1, "$Label1")
	add(0.1, "Custom_kw")
	return fl
}

// itDate is a second-precision time between 1999 and 2024 in one of itZones.
func itDate(rng *rand.Rand) time.Time {
	return time.Date(1999+rng.IntN(26), time.Month(1+rng.IntN(12)), 1+rng.IntN(28),
		rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, itZones[rng.IntN(len(itZones))])
}

// itBody builds message n. About 5% have no Message-ID; messages 10 and 11
// share one with different bodies.
func itBody(rng *rand.Rand, user, folder string, n int, date time.Time) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", fmt.Sprintf("Sender %d <sender%d@example.net>", n%7, n%7))
	hdr("To", user+"@example.org")
	hdr("Date", date.Format(time.RFC1123Z))
	switch {
	case n%20 == 7:
		// no Message-ID
	case n == 10 || n == 11:
		hdr("Message-ID", "<shared-"+user+"@example.org>")
	default:
		hdr("Message-ID", fmt.Sprintf("<%s-%d-%x@example.org>", user, n, rng.Uint32()))
	}
	text := fmt.Sprintf("Message %d of %s in %s.\r\nRandom %x.\r\n", n, user, folder, rng.Uint64())
	switch n % 6 {
	case 0:
		hdr("Subject", fmt.Sprintf("Plain message %d", n))
		b.WriteString("\r\n" + text)
	case 1:
		hdr("Subject", mime.BEncoding.Encode("utf-8", fmt.Sprintf("Réunion d'été %d: ça marche ✓", n)))
		hdr("MIME-Version", "1.0")
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\nGrüße aus Köln, 日本語のテキスト, 🎉\r\n" + text)
	case 2:
		hdr("Subject", fmt.Sprintf("Newsletter %d", n))
		hdr("MIME-Version", "1.0")
		hdr("Content-Type", `multipart/alternative; boundary="alt-b"`)
		b.WriteString("\r\n--alt-b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + text +
			"--alt-b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p><script>alert(1)</script>\r\n--alt-b--\r\n")
	case 3:
		hdr("Subject", fmt.Sprintf("Report %d attached", n))
		hdr("MIME-Version", "1.0")
		hdr("Content-Type", `multipart/mixed; boundary="mix-b"`)
		att := make([]byte, 500+rng.IntN(3000))
		for i := range att {
			att[i] = byte(rng.UintN(256))
		}
		b.WriteString("\r\n--mix-b\r\nContent-Type: text/plain\r\n\r\n" + text +
			"--mix-b\r\nContent-Type: application/octet-stream; name=\"r.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(itWrap(base64.StdEncoding.EncodeToString(att)))
		b.WriteString("--mix-b--\r\n")
	case 4:
		// RFC 6532 style raw UTF-8 in a header, as real mail has.
		hdr("Subject", fmt.Sprintf("Reçu n°%d — été", n))
		b.WriteString("\r\nÇa va très bien.\r\n" + text)
	default:
		hdr("Subject", fmt.Sprintf("<script>alert('subject %d')</script> & <b>bold</b>", n))
		b.WriteString("\r\n<html><script>document.cookie</script></html>\r\n" + text)
	}
	return b.Bytes()
}

// itBigBody is a multipart message of about size bytes with a generated
// base64 attachment.
func itBigBody(user string, size int64) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	raw := make([]byte, size*3/4)
	for i := 0; i+8 <= len(raw); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	var b bytes.Buffer
	b.WriteString("From: big@example.net\r\nTo: " + user + "@example.org\r\nSubject: a big one\r\n" +
		"Message-ID: <big-" + user + "@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"big-b\"\r\n\r\n--big-b\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n" +
		"--big-b\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(itWrap(base64.StdEncoding.EncodeToString(raw)))
	b.WriteString("--big-b--\r\n")
	return b.Bytes()
}

// itWrap breaks base64 into 76-character CRLF lines (RFC 2045 §6.8).
func itWrap(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/38 + 2)
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}
