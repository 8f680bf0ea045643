package migrate_test

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/migrate/model"
)

func TestMoveFull(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst rune
	}{
		{"slash to slash", '/', '/'},
		{"dot to slash", '.', '/'},
		{"slash to dot", '/', '.'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newMemEnv(t, tc.src, tc.dst, "alice")
			sep := string(tc.src)
			var msgs []seedMsg
			for i := 0; i < 30; i++ {
				msgs = append(msgs, msg("INBOX", "hello", i, imap.FlagSeen, "$Label1"))
			}
			for i := 0; i < 5; i++ {
				msgs = append(msgs, msg("Archive", "old", i), msg("Archive"+sep+"2023", "older", i, imap.FlagFlagged))
				msgs = append(msgs, msg("Reçus <b>&amp;", "markup", i))
			}
			msgs = append(msgs, msg("INBOX", "hello", 3)) // an exact duplicate
			big := msg("INBOX", "big", 0)
			big.body = bigBody(3 << 20)
			msgs = append(msgs, big)
			e.seed(t, "alice", msgs)
			if err := e.src.CreateMailbox("alice", "Sent Items", imap.MailboxAttrSent); err != nil {
				t.Fatal(err)
			}
			e.seed(t, "alice", []seedMsg{msg("Sent Items", "sent", 1, imap.FlagSeen)})
			want := map[string][]string{}
			for _, f := range []string{"INBOX", "Archive", "Archive" + sep + "2023", "Reçus <b>&amp;", "Sent Items"} {
				want[f] = manifest(t, e.src, "alice", f)
			}

			m := e.move(t, ctx, "alice", model.Job{})
			if m.State != model.MoveDone {
				t.Fatalf("move state = %s (%s), want done", m.State, m.Error)
			}
			dsep := string(tc.dst)
			for src, dst := range map[string]string{"INBOX": "INBOX", "Archive": "Archive", "Archive" + sep + "2023": "Archive" + dsep + "2023",
				"Reçus <b>&amp;": "Reçus <b>&amp;", "Sent Items": "Sent"} {
				equalManifest(t, dst, manifest(t, e.dst, "alice", dst), want[src])
			}
			if got := e.dir.Updates("uid=alice,ou=people,dc=example,dc=org"); got != 1 {
				t.Errorf("directory updates = %d, want 1", got)
			}
			u, _ := e.dir.Lookup(ctx, "alice")
			if u.Home != "dst.example.org" {
				t.Errorf("home = %q, want dst.example.org", u.Home)
			}
			boxes, _ := e.src.Mailboxes("alice")
			for _, b := range boxes {
				if b.Messages != 0 {
					t.Errorf("source %q still has %d messages", b.Name, b.Messages)
				}
			}
			if len(boxes) != 1 {
				t.Errorf("source folders left = %v, want only INBOX", boxes)
			}
			// Running it again finds the user already on the target.
			m2 := e.move(t, ctx, "alice", model.Job{})
			if m2.State != model.MoveAlreadyThere {
				t.Errorf("second move state = %s, want %s", m2.State, model.MoveAlreadyThere)
			}
		})
	}
}
