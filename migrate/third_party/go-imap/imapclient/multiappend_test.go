package imapclient_test

// movewizard patch: tests of the patches (MULTIAPPEND, APPENDUID uid-sets,
// LITERAL+ for any size) against a scripted server.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// scriptedServer greets with caps and hands each complete command (literals
// included) to answer, which returns the lines to send back.
func scriptedServer(t *testing.T, caps string, answer func(cmd string) string) (*imapclient.Client, <-chan string) {
	return scriptedServerRefusing(t, caps, answer, "")
}

// scriptedServerRefusing answers a synchronising literal with the tagged
// refusal instead of a continuation when refusal is set.
func scriptedServerRefusing(t *testing.T, caps string, answer func(cmd string) string, refusal string) (*imapclient.Client, <-chan string) {
	t.Helper()
	cc, sc := net.Pipe()
	cmds := make(chan string, 16)
	go func() {
		defer close(cmds)
		defer sc.Close()
		br := bufio.NewReader(sc)
		if _, err := io.WriteString(sc, "* OK [CAPABILITY "+caps+"] ready\r\n"); err != nil {
			return
		}
		for {
			var cmd strings.Builder
			for {
				line, err := br.ReadString('\n')
				cmd.WriteString(line)
				if err != nil {
					if cmd.Len() > 0 {
						cmds <- cmd.String()
					}
					return
				}
				if !strings.HasSuffix(line, "}\r\n") {
					break
				}
				spec := line[strings.LastIndexByte(line, '{')+1 : len(line)-3]
				sync := !strings.HasSuffix(spec, "+")
				n, err := strconv.Atoi(strings.TrimSuffix(spec, "+"))
				if err != nil {
					t.Errorf("bad literal %q", line)
					return
				}
				if sync && refusal != "" {
					io.WriteString(sc, tagOf(cmd.String())+" "+refusal+"\r\n")
					break
				}
				if sync {
					io.WriteString(sc, "+ go on\r\n")
				}
				buf := make([]byte, n)
				if n, err := io.ReadFull(br, buf); err != nil {
					cmd.Write(buf[:n])
					cmds <- cmd.String()
					return
				}
				cmd.Write(buf)
			}
			cmds <- cmd.String()
			if refusal != "" {
				continue
			}
			if resp := answer(cmd.String()); resp != "" {
				io.WriteString(sc, resp)
			}
		}
	}()
	c := imapclient.New(cc, nil)
	t.Cleanup(func() { c.Close() })
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	return c, cmds
}

func tagOf(cmd string) string { tag, _, _ := strings.Cut(cmd, " "); return tag }

func TestMultiAppend(t *testing.T) {
	big := strings.Repeat("x", 5000)
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, caps, set string
		want            []imap.UID
		wire            string
	}{
		{"literal+", "IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS", "7:9", []imap.UID{7, 8, 9},
			`APPEND INBOX (\Seen) " 2-Jan-2020 03:04:05 +0000" {5000+}` + "\r\n" + big + " {3+}\r\nabc {0+}\r\n\r\n"},
		{"synchronising", "IMAP4rev1 MULTIAPPEND UIDPLUS", "9,3:4", []imap.UID{9, 3, 4},
			`APPEND INBOX (\Seen) " 2-Jan-2020 03:04:05 +0000" {5000}` + "\r\n" + big + " {3}\r\nabc {0}\r\n\r\n"},
		{"set of the wrong size", "IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS", "4:3", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cmds := scriptedServer(t, tc.caps, func(cmd string) string {
				return tagOf(cmd) + " OK [APPENDUID 42 " + tc.set + "] done\r\n"
			})
			cmd := c.MultiAppend("INBOX")
			for i, m := range []struct {
				body string
				opts *imap.AppendOptions
			}{
				{big, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date}},
				{"abc", nil},
				{"", &imap.AppendOptions{}},
			} {
				w := cmd.Message(int64(len(m.body)), m.opts)
				if _, err := io.WriteString(w, m.body); err != nil {
					t.Fatalf("message %d: Write() = %v", i, err)
				}
				if err := w.Close(); err != nil {
					t.Fatalf("message %d: Close() = %v", i, err)
				}
			}
			if err := cmd.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			data, err := cmd.Wait()
			if err != nil {
				t.Fatalf("Wait() = %v", err)
			}
			if data.UIDValidity != 42 || !slices.Equal(data.UIDs, tc.want) {
				t.Errorf("Wait() = %+v, want UIDVALIDITY 42, UIDs %v", data, tc.want)
			}
			got := <-cmds
			if _, rest, _ := strings.Cut(got, " "); tc.wire != "" && rest != tc.wire {
				t.Errorf("sent %d bytes %.80q...\nwant %d bytes %.80q...", len(rest), rest, len(tc.wire), tc.wire)
			}
			// The client is still usable.
			if err := c.Noop().Wait(); err != nil {
				t.Errorf("Noop() = %v", err)
			}
		})
	}
}

func TestMultiAppendRefused(t *testing.T) {
	c, _ := scriptedServer(t, "IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS", func(cmd string) string {
		return tagOf(cmd) + " NO [LIMIT] too big\r\n"
	})
	cmd := c.MultiAppend("INBOX")
	for _, body := range []string{"one", "two"} {
		w := cmd.Message(int64(len(body)), nil)
		io.WriteString(w, body)
		w.Close()
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := cmd.Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeLimit {
		t.Fatalf("Wait() = %v, want NO [LIMIT]", err)
	}
}

// An incomplete message must never end the command: Close closes the
// connection instead, and the server sees no CRLF after the short literal.
func TestMultiAppendIncomplete(t *testing.T) {
	c, cmds := scriptedServer(t, "IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS", func(cmd string) string {
		return tagOf(cmd) + " OK done\r\n"
	})
	cmd := c.MultiAppend("INBOX")
	w := cmd.Message(10000, nil)
	io.WriteString(w, strings.Repeat("z", 6000))
	if err := w.Close(); err == nil {
		t.Error("message Close() after 6000 of 10000 bytes = nil")
	}
	if err := cmd.Close(); err == nil {
		t.Error("Close() = nil after an incomplete message")
	}
	if _, err := cmd.Wait(); err == nil {
		t.Error("Wait() = nil after an incomplete message")
	}
	// The server may have read part of the literal, never the whole.
	if got := <-cmds; len(got) >= 10000 {
		t.Errorf("server read %d bytes, want the command cut inside the literal", len(got))
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Error("client not closed")
	}
}

func TestMultiAppendEmpty(t *testing.T) {
	c, _ := scriptedServer(t, "IMAP4rev1 MULTIAPPEND", func(string) string { return "" })
	cmd := c.MultiAppend("INBOX")
	if err := cmd.Close(); err == nil {
		t.Error("Close() without a message = nil")
	}
	if _, err := cmd.Wait(); err == nil {
		t.Error("Wait() without a message = nil")
	}
}

// A single APPEND of a big message is non-synchronising under LITERAL+,
// and its APPENDUID still gives the UID.
func TestAppendLiteralPlusBig(t *testing.T) {
	c, cmds := scriptedServer(t, "IMAP4rev1 LITERAL+ UIDPLUS", func(cmd string) string {
		return tagOf(cmd) + " OK [APPENDUID 5 77] done\r\n"
	})
	body := strings.Repeat("y", 10000)
	cmd := c.Append("INBOX", int64(len(body)), nil)
	io.WriteString(cmd, body)
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil || data.UID != 77 || data.UIDValidity != 5 {
		t.Fatalf("Wait() = %+v, %v; want UID 77, UIDVALIDITY 5", data, err)
	}
	if got := <-cmds; !strings.Contains(got, "{10000+}\r\n") {
		t.Errorf("sent %.60q, want a non-synchronising literal", got)
	}
}

// AppendSynchronizing waits for the continuation even under LITERAL+, and
// a refusal instead of it fails the write before a byte of the message.
func TestAppendSynchronizing(t *testing.T) {
	c, cmds := scriptedServer(t, "IMAP4rev1 LITERAL+ UIDPLUS", func(cmd string) string {
		return tagOf(cmd) + " OK [APPENDUID 5 78] done\r\n"
	})
	cmd := c.AppendSynchronizing("INBOX", 3, nil)
	io.WriteString(cmd, "abc")
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := cmd.Wait(); err != nil || data.UID != 78 {
		t.Fatalf("Wait() = %+v, %v; want UID 78", data, err)
	}
	if got := <-cmds; !strings.HasSuffix(got, "{3}\r\nabc\r\n") {
		t.Errorf("sent %q, want a synchronising literal", got)
	}

	c, _ = scriptedServerRefusing(t, "IMAP4rev1 LITERAL+", nil, "BAD Invalid system flag")
	cmd = c.AppendSynchronizing("INBOX", 3, &imap.AppendOptions{Flags: []imap.Flag{`\Bogus`}})
	_, err := io.WriteString(cmd, "abc")
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeBad {
		t.Fatalf("Write() = %v, want the BAD", err)
	}
}
