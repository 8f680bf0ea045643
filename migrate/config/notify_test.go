package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifySection uses every [notify] key; the tests edit it by plain text
// replacement.
const notifySection = `
[notify]
base_url = "https://movewizard.example.org"
default_recipients = ["ops@example.org", "lead@example.org"]
default_webhook = false

[[notify.webhooks]]
url = "https://hooks.example.org/mw?token=hook-t0ken"
secret = "hmac-s3cret"
header = "Authorization"
header_value = "Bearer header-s3cret"
timeout = "5s"

[[notify.webhooks]]
url = "http://127.0.0.1:9000/hook"

[notify.smtp]
address = "smtp.example.org:587"
from = "movewizard@example.org"
username = "mw"
password = "smtp-s3cret"
starttls = "required"
timeout = "20s"
`

var notifySecrets = []string{"hook-t0ken", "hmac-s3cret", "header-s3cret", "smtp-s3cret"}

func editNotify(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(notifySection, old) {
		t.Fatalf("notifySection does not contain %q", old)
	}
	return exampleConfig + strings.Replace(notifySection, old, new, 1)
}

func TestParseNotify(t *testing.T) {
	c := mustParse(t, exampleConfig+notifySection)
	n := c.Notify
	if n.BaseURL != "https://movewizard.example.org" || n.DefaultWebhook ||
		strings.Join(n.DefaultRecipients, ",") != "ops@example.org,lead@example.org" {
		t.Errorf("Notify = %+v", n)
	}
	if len(n.Webhooks) != 2 {
		t.Fatalf("Webhooks = %d, want 2", len(n.Webhooks))
	}
	w := n.Webhooks[0]
	if w.Secret != "hmac-s3cret" || w.Header != "Authorization" || w.HeaderValue != "Bearer header-s3cret" || w.Timeout != 5*time.Second {
		t.Errorf("Webhooks[0] secrets or timeout not as written (timeout %s)", w.Timeout)
	}
	if n.Webhooks[1].Timeout != DefaultWebhookTimeout {
		t.Errorf("Webhooks[1].Timeout = %s, want the default %s", n.Webhooks[1].Timeout, DefaultWebhookTimeout)
	}
	s := n.SMTP
	if s == nil || s.Address != "smtp.example.org:587" || s.From != "movewizard@example.org" || s.Username != "mw" ||
		s.Password != "smtp-s3cret" || s.StartTLS != SMTPStartTLSRequired || s.Timeout != 20*time.Second {
		t.Errorf("SMTP = %v", s)
	}
	if !n.Enabled() {
		t.Error("Enabled() = false, want true")
	}

	// Without the section nobody is notified; with only a webhook the
	// wizard's box starts checked; the relay's STARTTLS defaults to required.
	if c := mustParse(t, exampleConfig); c.Notify.Enabled() || c.Notify.SMTP != nil {
		t.Errorf("Notify without [notify] = %+v, want nothing enabled", c.Notify)
	}
	c = mustParse(t, exampleConfig+"[[notify.webhooks]]\nurl = \"https://h.example.org/\"\n[notify.smtp]\naddress = \"127.0.0.1:25\"\nfrom = \"mw@example.org\"\n")
	if !c.Notify.DefaultWebhook || c.Notify.SMTP.StartTLS != SMTPStartTLSRequired || c.Notify.SMTP.Timeout != DefaultSMTPTimeout {
		t.Errorf("defaults: DefaultWebhook = %v, SMTP = %v", c.Notify.DefaultWebhook, c.Notify.SMTP)
	}
}

func TestParseNotifySecretsFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hook.secret"), "file-hmac\n")
	env := map[string]string{"MW_SMTP": "env-smtp", "MW_TOKEN": "Bearer env-token"}
	data := editNotify(t, `secret = "hmac-s3cret"`, `secret_file = "hook.secret"`)
	data = strings.Replace(data, `password = "smtp-s3cret"`, `password_env = "MW_SMTP"`, 1)
	data = strings.Replace(data, `header_value = "Bearer header-s3cret"`, `header_value_env = "MW_TOKEN"`, 1)
	c, err := Parse([]byte(data), dir, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if w := c.Notify.Webhooks[0]; w.Secret != "file-hmac" || w.HeaderValue != "Bearer env-token" || c.Notify.SMTP.Password != "env-smtp" {
		t.Errorf("secrets not resolved from file and environment")
	}
	_, err = Parse([]byte(strings.Replace(data, `password_env = "MW_SMTP"`, `password_env = "MW_UNSET"`, 1)), dir, noEnv)
	if err == nil || !strings.Contains(err.Error(), `notify.smtp.password_env: environment variable "MW_UNSET" is unset or empty`) {
		t.Errorf("Parse() with an unset variable = %v", err)
	}
}

func TestParseNotifyInvalid(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"base_url scheme", `base_url = "https://movewizard.example.org"`, `base_url = "ftp://x.example.org"`, `notify.base_url: "ftp://x.example.org" is not an http:// or https:// URL`},
		{"recipient not an address", `"lead@example.org"]`, `"lead"]`, `notify.default_recipients: "lead" is not an e-mail address`},
		{"recipient with a name", `"lead@example.org"]`, `"Lead <lead@example.org>"]`, `notify.default_recipients: "Lead <lead@example.org>" is not an e-mail address`},
		{"recipient twice", `"lead@example.org"]`, `"OPS@example.org"]`, `notify.default_recipients: "OPS@example.org" is listed twice`},
		{"too many recipients", `default_recipients = ["ops@example.org", "lead@example.org"]`,
			"default_recipients = [" + strings.Repeat(`"a@example.org",`, 0) + manyAddresses(21) + "]", `notify.default_recipients: 21 addresses; at most 20`},
		{"webhook url missing", `url = "http://127.0.0.1:9000/hook"`, `timeout = "3s"`, `notify.webhooks[1].url: required`},
		{"webhook url scheme", `url = "http://127.0.0.1:9000/hook"`, `url = "ldap://127.0.0.1/"`, `notify.webhooks[1].url: "ldap://127.0.0.1/" is not an http:// or https:// URL`},
		{"webhook url no host", `url = "http://127.0.0.1:9000/hook"`, `url = "https:///hook"`, `notify.webhooks[1].url: "https:///hook" has no host`},
		{"webhook url user info", `url = "http://127.0.0.1:9000/hook"`, `url = "https://u:hook-t0ken@h.example.org/"`, `notify.webhooks[1].url: must not contain user info`},
		{"webhook url twice", `url = "http://127.0.0.1:9000/hook"`, `url = "https://hooks.example.org/mw?token=hook-t0ken"`, `notify.webhooks[1].url: already used by notify.webhooks[0]`},
		{"header value over http", `url = "https://hooks.example.org/mw?token=hook-t0ken"`, `url = "http://hooks.example.org/mw"`, `notify.webhooks[0].url: is http:// to a host that is not loopback`},
		{"header without value", `header_value = "Bearer header-s3cret"`, ``, `notify.webhooks[0].header_value: required when header is set`},
		{"value without header", `header = "Authorization"`, ``, `notify.webhooks[0].header: required when header_value is set`},
		{"header name", `header = "Authorization"`, `header = "Author ization"`, `notify.webhooks[0].header: "Author ization" is not an HTTP header name`},
		{"header value two lines", `header_value = "Bearer header-s3cret"`, `header_value = "Bearer x\r\nX-Evil: 1"`, `notify.webhooks[0].header_value: must be one line`},
		{"webhook timeout", `timeout = "5s"`, `timeout = "1h"`, `notify.webhooks[0].timeout: "1h" is not a duration between 1s and 5m`},
		{"two secret sources", `secret = "hmac-s3cret"`, "secret = \"hmac-s3cret\"\nsecret_env = \"X\"", `notify.webhooks[0].secret: set only one of secret, secret_file and secret_env`},
		{"smtp address", `address = "smtp.example.org:587"`, `address = "smtp.example.org"`, `notify.smtp.address: "smtp.example.org"`},
		{"smtp from missing", `from = "movewizard@example.org"`, ``, `notify.smtp.from: required`},
		{"smtp from bad", `from = "movewizard@example.org"`, `from = "movewizard@example.org\r\nBcc: x@example.org"`, `notify.smtp.from: "movewizard@example.org\r\nBcc: x@example.org" is not an e-mail address`},
		{"smtp starttls", `starttls = "required"`, `starttls = "always"`, `notify.smtp.starttls: "always" is not one of "required", "if-offered", "none"`},
		{"smtp password cleartext", `starttls = "required"`, `starttls = "if-offered"`, `notify.smtp.starttls: "if-offered" with a username: the password could cross the network in cleartext`},
		{"smtp password missing", `password = "smtp-s3cret"`, ``, `notify.smtp.password: required when username is set`},
		{"smtp username missing", `username = "mw"`, ``, `notify.smtp.username: required when a password is set`},
		{"smtp timeout", `timeout = "20s"`, `timeout = "soon"`, `notify.smtp.timeout: "soon" is not a duration`},
		{"unknown key", `timeout = "20s"`, "timeout = \"20s\"\ntls = true", `notify.smtp.tls: unknown key`},
		{"unknown webhook key", `url = "http://127.0.0.1:9000/hook"`, "url = \"http://127.0.0.1:9000/hook\"\nsecrett = \"x\"", `notify.webhooks[1].secrett: unknown key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(editNotify(t, tc.old, tc.new)), t.TempDir(), noEnv)
			if err == nil {
				t.Fatalf("Parse() error = nil, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse() error = %q, want it to contain %q", err, tc.want)
			}
			if n := problemCount(err); n != 1 {
				t.Errorf("Parse() reported %d problems, want 1: %q", n, err)
			}
			for _, s := range append(notifySecrets[1:], "bind-s3cret") {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Parse() error = %q, want no secret in it", err)
				}
			}
		})
	}
}

func manyAddresses(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%q", fmt.Sprintf("a%d@example.org", i))
	}
	return strings.Join(parts, ", ")
}

func TestCheckRecipients(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		want  string // "" for valid
	}{
		{nil, ""},
		{[]string{"ops@example.org", "root@localhost"}, ""},
		{[]string{"ops@example.org", ""}, "an address is empty"},
		{[]string{"ops"}, `"ops" is not an e-mail address`},
		{[]string{"ops@example"}, `"ops@example" is not an e-mail address`},
		{[]string{"a@example.org\r\nRCPT TO:<x@evil.example>"}, "is not an e-mail address"},
		{[]string{"a@example.org;b@example.org"}, "is not an e-mail address"},
	} {
		err := CheckRecipients(tc.addrs)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckRecipients(%q) = %v, want %q", tc.addrs, err, tc.want)
		}
	}
}

func TestNotifyRedaction(t *testing.T) {
	c := mustParse(t, exampleConfig+notifySection)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c, "webhooks", c.Notify.Webhooks)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"slog json":    buf.String(),
		"json":         string(js),
		"Sprint hooks": fmt.Sprint(c.Notify.Webhooks),
		"%#v hook":     fmt.Sprintf("%#v", c.Notify.Webhooks[0]),
		"%+v smtp":     fmt.Sprintf("%+v", *c.Notify.SMTP),
		"%+v config":   fmt.Sprintf("%+v", c),
	} {
		for _, s := range notifySecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output = %q, want no %q", name, out, s)
			}
		}
	}
	if !strings.Contains(buf.String(), "hooks.example.org/mw?REDACTED") || !strings.Contains(buf.String(), "smtp.example.org:587") {
		t.Errorf("slog output = %q, want the webhook's host and path and the relay", buf.String())
	}
	if c.Notify.SMTP.Password != "smtp-s3cret" || c.Notify.Webhooks[0].Secret != "hmac-s3cret" {
		t.Error("redaction changed the config")
	}
}

func TestNotifyCleartext(t *testing.T) {
	c := mustParse(t, exampleConfig+notifySection)
	got := strings.Join(c.Notify.Cleartext(), "\n")
	if want := "notify.webhooks[1]: HTTP without TLS (loopback address)"; got != want {
		t.Errorf("Cleartext() = %q, want %q (the https:// hook and the STARTTLS-required relay are encrypted)", got, want)
	}
	c = mustParse(t, exampleConfig+"[notify.smtp]\naddress = \"smtp.example.org:25\"\nfrom = \"mw@example.org\"\nstarttls = \"if-offered\"\n")
	if got, want := strings.Join(c.Cleartext(), "\n"), `notify.smtp: SMTP without STARTTLS when the relay does not offer it (starttls = "if-offered")`; !strings.Contains(got, want) {
		t.Errorf("Config.Cleartext() = %q, want it to contain %q", got, want)
	}
}
