package imapmem

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// appendMsg appends body to mailbox and returns the APPEND result.
func appendMsg(c *imapclient.Client, mailbox string, body []byte, opts *imap.AppendOptions) (*imap.AppendData, error) {
	cmd := c.Append(mailbox, int64(len(body)), opts)
	if _, err := cmd.Write(body); err != nil {
		return nil, err
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return cmd.Wait()
}

func TestAppendUIDAndExpunge(t *testing.T) {
	s, addr := mustServer(t, Options{})
	c := mustLogin(t, addr, "alice")
	date := time.Date(2023, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	// The body holds lines that look like commands and capability responses:
	// the wire filters must pass literals through untouched.
	body := []byte("Subject: tricky\r\n\r\nA1 GETQUOTAROOT INBOX\r\n* CAPABILITY IMAP4rev1 X\r\n")
	data, err := appendMsg(c, "INBOX", body, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged, "$Work"}, Time: date})
	if err != nil {
		t.Fatalf("Append() = %v", err)
	}
	if data.UID != 1 || data.UIDValidity == 0 {
		t.Errorf("Append() = %+v, want APPENDUID with UID 1", data)
	}
	msgs, err := s.Messages("alice", "INBOX")
	if err != nil {
		t.Fatalf("Messages() = %v", err)
	}
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Body, body) || !msgs[0].Date.Equal(date) ||
		!slices.Equal(msgs[0].Flags, []imap.Flag{"$work", `\flagged`}) {
		t.Fatalf("Messages() = %+v, want the appended message", msgs)
	}

	mustSelect(t, c, "INBOX")
	got, err := fetchBodies(t, c, data.UID)
	if err != nil || got[data.UID] != string(body) {
		t.Fatalf("fetch = %q, %v, want the body unchanged", got[data.UID], err)
	}

	second, err := appendMsg(c, "INBOX", testBody(2, 200), nil)
	if err != nil {
		t.Fatalf("Append() = %v", err)
	}
	uids := imap.UIDSetNum(data.UID, second.UID)
	if err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("Store() = %v", err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(second.UID)).Close(); err != nil {
		t.Fatalf("UIDExpunge() = %v", err)
	}
	msgs, err = s.Messages("alice", "INBOX")
	if err != nil {
		t.Fatalf("Messages() = %v", err)
	}
	if len(msgs) != 1 || msgs[0].UID != data.UID {
		t.Errorf("Messages() after UID EXPUNGE = %+v, want only UID %d", msgs, data.UID)
	}
}

func TestAppendNoMailbox(t *testing.T) {
	_, addr := mustServer(t, Options{})
	c := mustLogin(t, addr, "alice")
	_, err := appendMsg(c, "Missing", testBody(1, 100), nil)
	if code, _ := imapCode(err); code != imap.ResponseCodeTryCreate {
		t.Errorf("Append(Missing) = %v, want NO [TRYCREATE]", err)
	}
}

func TestRefuseAppend(t *testing.T) {
	s, addr := mustServer(t, Options{})
	s.Faults().RefuseAppend(func(mailbox string, size int64, _ []imap.Flag) *imap.Error {
		if size > 500 {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Message too large"}
		}
		return nil
	})
	c := mustLogin(t, addr, "alice")
	if _, err := appendMsg(c, "INBOX", testBody(1, 100), nil); err != nil {
		t.Errorf("Append(small) = %v, want nil", err)
	}
	_, err := appendMsg(c, "INBOX", testBody(2, 1000), nil)
	if code, _ := imapCode(err); code != imap.ResponseCodeLimit {
		t.Errorf("Append(large) = %v, want NO [LIMIT]", err)
	}
	s.Faults().RefuseAppend(nil)
	if _, err := appendMsg(c, "INBOX", testBody(3, 1000), nil); err != nil {
		t.Errorf("Append(large) without refusal = %v, want nil", err)
	}
	if got, want := s.Faults().Counts().Appends, 3; got != want {
		t.Errorf("Counts().Appends = %d, want %d", got, want)
	}
}

func TestQuota(t *testing.T) {
	s, addr := mustServer(t, Options{})
	mustAdd(t, s, "alice", "INBOX", testBody(1, 3000))
	c := mustLogin(t, addr, "alice")
	if !c.Caps().Has(imap.Cap("QUOTA")) {
		t.Errorf("Caps() = %v, want QUOTA", c.Caps())
	}

	// Without a limit INBOX has no quota root.
	data, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil || len(data) != 0 {
		t.Errorf("GetQuotaRoot() without quota = %+v, %v, want no data", data, err)
	}

	if err := s.SetQuota("alice", 10*1024); err != nil {
		t.Fatalf("SetQuota() = %v", err)
	}
	data, err = c.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatalf("GetQuotaRoot() = %v", err)
	}
	want := imapclient.QuotaResourceData{Usage: 3, Limit: 10}
	if len(data) != 1 || data[0].Resources[imap.QuotaResourceStorage] != want {
		t.Errorf("GetQuotaRoot() = %+v, want STORAGE %+v", data, want)
	}

	_, err = appendMsg(c, "INBOX", testBody(2, 8000), nil)
	if code, _ := imapCode(err); code != imap.ResponseCodeOverQuota {
		t.Errorf("Append(over quota) = %v, want NO [OVERQUOTA]", err)
	}
	if _, err := appendMsg(c, "INBOX", testBody(3, 1000), nil); err != nil {
		t.Errorf("Append(within quota) = %v, want nil", err)
	}

	_, err = c.GetQuotaRoot("Missing").Wait()
	if code, _ := imapCode(err); code != imap.ResponseCodeNonExistent {
		t.Errorf("GetQuotaRoot(Missing) = %v, want NO [NONEXISTENT]", err)
	}
}
