package handlers_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scaleRowUIDs are the uids of the rows of a job page, in order.
func scaleRowUIDs(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`data-testid="move-(u\d+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestJobPageQuery(t *testing.T) {
	a := newScaleApp(t, 120)
	cookies := a.cookies(t, "alice", "alicepw")
	// The running moves u00001..u00030 get rates growing with their number.
	a.publishRunning()
	time.Sleep(50 * time.Millisecond)
	a.publishRunning()
	get := func(query string) (int, string) {
		t.Helper()
		rec := a.serve(cookies, fmt.Sprintf("/jobs/%d%s", a.job.ID, query))
		return rec.Code, rec.Body.String()
	}

	t.Run("rate descending", func(t *testing.T) {
		_, body := get("?sort=rate&dir=desc")
		rows := scaleRowUIDs(body)
		if len(rows) != 50 || rows[0] != "u00030" || rows[29] != "u00001" || rows[30] != "u00031" {
			t.Errorf("?sort=rate&dir=desc rows = %v, want u00030..u00001 then the rest in creation order", rows)
		}
	})
	t.Run("rate ascending", func(t *testing.T) {
		_, body := get("?sort=rate&dir=asc&page=2")
		rows := scaleRowUIDs(body)
		// The 90 moves without a rate come first: page 1 and 40 rows of 2.
		if len(rows) != 50 || rows[0] != "u00081" || rows[39] != "u00120" || rows[40] != "u00001" || rows[49] != "u00010" {
			t.Errorf("?sort=rate&dir=asc&page=2 rows = %v, want u00081..u00120 then u00001..u00010", rows)
		}
		_, body = get("?sort=rate&dir=asc&page=3")
		if rows := scaleRowUIDs(body); len(rows) != 20 || rows[0] != "u00011" || rows[19] != "u00030" {
			t.Errorf("?sort=rate&dir=asc&page=3 rows = %v, want u00011..u00030", rows)
		}
	})
	t.Run("rate among running only", func(t *testing.T) {
		_, body := get("?state=running&sort=rate&dir=desc")
		if rows := scaleRowUIDs(body); len(rows) != 30 || rows[0] != "u00030" {
			t.Errorf("running by rate = %v, want 30 rows from u00030", rows)
		}
	})
	t.Run("page past the end shows the last", func(t *testing.T) {
		code, body := get("?page=99")
		if rows := scaleRowUIDs(body); code != http.StatusOK || len(rows) != 20 || rows[0] != "u00101" || !strings.Contains(body, "Page 3 of 3") {
			t.Errorf("?page=99 = %d rows %v, want the last page (u00101..)", code, rows)
		}
	})
	t.Run("links keep the query", func(t *testing.T) {
		_, body := get("?state=done&sort=mailbox&dir=desc")
		for _, s := range []string{`href="/jobs/1?dir=asc&amp;sort=mailbox&amp;state=done"`, // the current order turns round
			`href="/jobs/1?dir=desc&amp;page=2&amp;sort=mailbox&amp;state=done"`, `name="back" value="dir=desc&amp;sort=mailbox&amp;state=done"`} {
			if !strings.Contains(body, s) {
				t.Errorf("page lacks %s", s)
			}
		}
		rows := scaleRowUIDs(body)
		if !slices.IsSortedFunc(rows, func(x, y string) int { return strings.Compare(y, x) }) {
			t.Errorf("rows %v not in descending mailbox order", rows)
		}
	})
	for _, tc := range []struct{ query, want string }{
		{"?state=lost", "is not a mailbox state"},
		{"?sort=size", "is not an order of the mailboxes"},
		{"?sort=rate&dir=up", "is not a sort direction"},
		{"?page=0", "is not a page number"},
		{"?page=x", "is not a page number"},
		{"?q=" + strings.Repeat("x", 65), "longer than 64 characters"},
	} {
		t.Run("bad "+tc.query[:min(len(tc.query), 20)], func(t *testing.T) {
			if code, body := get(tc.query); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s = %d, want 400 saying %q", tc.query, code, tc.want)
			}
		})
	}
}
