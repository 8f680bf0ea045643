package handlers

import (
	"strings"
	"testing"
)

func TestEcho(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user01", `"user01"`},
		{"a\"b", `"a\"b"`},
		{"bad\xffbyte", `"bad` + "\uFFFD" + `byte"`},
		{strings.Repeat("x", echoLimit), `"` + strings.Repeat("x", echoLimit) + `"`},
		{strings.Repeat("é", 10000), `"` + strings.Repeat("é", echoLimit) + `"… (10000 characters)`},
	} {
		if got := echo(tc.in); got != tc.want {
			t.Errorf("echo(%.20q…) = %.80q, want %.80q", tc.in, got, tc.want)
		}
	}
}
