package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// validate checks the kick keys of the server at key (servers[0]); allowPlaintext
// is the server's allow_plaintext, which also accepts an http:// kick_url
// to a host that is not loopback.
func (k Kick) validate(p *problems, key string, allowPlaintext bool) {
	if k.Command != nil && k.URL != "" {
		p.addf(key+".kick_url", "set only one of kick_command and kick_url")
		return
	}
	if k.Command != nil {
		k.validateCommand(p, key+".kick_command")
	}
	if k.URL != "" {
		if err := checkHTTPURL(k.URL); err != nil {
			p.addf(key+".kick_url", "%w", err)
		} else if u, _ := url.Parse(k.URL); u.Scheme == "http" && !allowPlaintext && !isLoopback(u.Hostname()) {
			p.addf(key+".kick_url", "%q would send the API key in cleartext; use https://, "+
				"or set allow_plaintext = true to accept that", redactURL(k.URL))
		}
		if k.APIKey == "" {
			p.addf(key+".kick_api_key", "required with kick_url (or kick_api_key_file or kick_api_key_env)")
		}
	} else if k.APIKey != "" {
		p.addf(key+".kick_api_key", "only with kick_url")
	}
}

func (k Kick) validateCommand(p *problems, key string) {
	if len(k.Command) == 0 {
		p.addf(key, `is empty; give the program and its arguments, like ["doveadm", "kick", %q]`, KickUserArg)
		return
	}
	hasUser := false
	for i, arg := range k.Command {
		if strings.ContainsAny(arg, "\x00\r\n") {
			p.addf(fmt.Sprintf("%s[%d]", key, i), "%q contains a NUL or a line break", arg)
		}
		if i > 0 && strings.Contains(arg, KickUserArg) {
			hasUser = true
		}
	}
	switch {
	case strings.TrimSpace(k.Command[0]) == "":
		p.addf(key+"[0]", "the program is empty")
	case strings.Contains(k.Command[0], KickUserArg):
		p.addf(key+"[0]", "%q: the program must not depend on the uid", k.Command[0])
	}
	if !hasUser {
		p.addf(key, "no argument contains %s, which is replaced by the uid of the user whose sessions end", KickUserArg)
	}
}

// String names the kick action without its API key: "none",
// `command ["doveadm" "kick" "{user}"]` or "doveadm HTTP API http://...".
func (k Kick) String() string {
	switch {
	case len(k.Command) > 0:
		return fmt.Sprintf("command %q", k.Command)
	case k.URL != "":
		return "doveadm HTTP API " + redactURL(k.URL)
	}
	return "none"
}

// Format prints String for every verb, so no verb can reach the API key.
func (k Kick) Format(f fmt.State, _ rune) {
	// fmt.State records write errors itself; Format has no way to return one.
	fmt.Fprint(f, k.String())
}

// LogValue implements slog.LogValuer with the API key redacted.
func (k Kick) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("command", k.Command),
		slog.String("url", redactURL(k.URL)),
		slog.String("api_key", redact(k.APIKey)),
	)
}

// MarshalJSON encodes the kick action with the API key redacted.
func (k Kick) MarshalJSON() ([]byte, error) {
	type plain Kick // without methods, so Marshal does not recurse
	v := plain(k)
	v.APIKey = redact(v.APIKey)
	v.URL = redactURL(v.URL)
	return json.Marshal(v)
}
