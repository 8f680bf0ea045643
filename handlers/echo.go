package handlers

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// echoLimit is how many characters of a person's input a message repeats:
// enough to recognise the value, not enough for a 10,000-character field to
// become the page.
const echoLimit = 64

// echo quotes what a person typed or uploaded for a message: invalid UTF-8
// becomes U+FFFD, and a value longer than echoLimit characters is cut
// with "…" and its length, so that a message's cost is bounded.
func echo(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if n := utf8.RuneCountInString(s); n > echoLimit {
		cut := 0
		for range echoLimit {
			_, size := utf8.DecodeRuneInString(s[cut:])
			cut += size
		}
		return strconv.Quote(s[:cut]) + "… (" + strconv.Itoa(n) + " characters)"
	}
	return strconv.Quote(s)
}

// plural is "1 user", "2 users", "0 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
