package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// STARTTLS policies of the SMTP relay.
const (
	SMTPStartTLSRequired  = "required"   // refuse to send unless the relay offers STARTTLS
	SMTPStartTLSIfOffered = "if-offered" // use it when the relay offers it
	SMTPStartTLSNone      = "none"       // never; only for a relay on loopback or a trusted network
)

// Limits of the notification settings.
const (
	MaxNotifyRecipients    = 20
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultSMTPTimeout     = 30 * time.Second
	maxNotifyTimeout       = 5 * time.Minute
	WebhookSignatureHeader = "X-Movewizard-Signature"
)

// Notify says how people are told that a job finished or a mailbox
// failed ([notify]). The zero value notifies nobody.
type Notify struct {
	// BaseURL is the web UI's public address (https://movewizard.example.org),
	// for links to the job in notifications; "" leaves them out.
	BaseURL  string
	Webhooks []Webhook
	SMTP     *SMTP // nil: no relay, no e-mail
	// DefaultRecipients are the wizard's e-mail recipients until the admin
	// changes them; DefaultWebhook whether its webhook box starts checked
	// (default_webhook, default true when a webhook is configured).
	DefaultRecipients []string
	DefaultWebhook    bool
}

// Webhook is one URL that receives a JSON POST per notification.
type Webhook struct {
	URL string // http:// or https://
	// Secret, when set, signs each body: the request carries
	// X-Movewizard-Signature: sha256=<hex HMAC-SHA256 of the body>.
	Secret string
	// Header and HeaderValue, when set, are sent with each request, e.g.
	// Authorization: Bearer <token>.
	Header      string
	HeaderValue string
	Timeout     time.Duration
}

// SMTP is the relay notifications are sent through.
type SMTP struct {
	Address  string // host:port
	From     string // the envelope and header sender, a bare address
	Username string // "" sends without AUTH
	Password string
	StartTLS string // SMTPStartTLSRequired, SMTPStartTLSIfOffered or SMTPStartTLSNone
	Timeout  time.Duration
}

// Enabled reports whether any channel is configured.
func (n Notify) Enabled() bool { return len(n.Webhooks) > 0 || n.SMTP != nil }

// WebhookURLs returns the webhooks' URLs.
func (n Notify) WebhookURLs() []string {
	out := make([]string, len(n.Webhooks))
	for i, w := range n.Webhooks {
		out[i] = w.URL
	}
	return out
}

// Webhook returns the webhook with url.
func (n Notify) Webhook(url string) (Webhook, bool) {
	for _, w := range n.Webhooks {
		if w.URL == url {
			return w, true
		}
	}
	return Webhook{}, false
}

type fileNotify struct {
	BaseURL           string        `toml:"base_url"`
	DefaultRecipients []string      `toml:"default_recipients"`
	DefaultWebhook    *bool         `toml:"default_webhook"`
	Webhooks          []fileWebhook `toml:"webhooks"`
	SMTP              *fileSMTP     `toml:"smtp"`
}

type fileWebhook struct {
	URL             string `toml:"url"`
	Secret          string `toml:"secret"`
	SecretFile      string `toml:"secret_file"`
	SecretEnv       string `toml:"secret_env"`
	Header          string `toml:"header"`
	HeaderValue     string `toml:"header_value"`
	HeaderValueFile string `toml:"header_value_file"`
	HeaderValueEnv  string `toml:"header_value_env"`
	Timeout         string `toml:"timeout"`
}

type fileSMTP struct {
	Address      string `toml:"address"`
	From         string `toml:"from"`
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	StartTLS     string `toml:"starttls"`
	Timeout      string `toml:"timeout"`
}

// parseNotify resolves the [notify] section's secrets and durations.
func (p *problems) parseNotify(fn fileNotify, dir string, getenv func(string) string) Notify {
	// The webhook box starts checked when there is a webhook, unless the
	// file says otherwise.
	n := Notify{BaseURL: fn.BaseURL, DefaultRecipients: fn.DefaultRecipients, DefaultWebhook: len(fn.Webhooks) > 0}
	if fn.DefaultWebhook != nil {
		n.DefaultWebhook = *fn.DefaultWebhook
	}
	for i, fw := range fn.Webhooks {
		key := fmt.Sprintf("notify.webhooks[%d]", i)
		w := Webhook{URL: fw.URL, Header: fw.Header,
			Timeout: p.duration(key+".timeout", fw.Timeout, DefaultWebhookTimeout)}
		w.Secret = p.secret(key+".secret", secretSource{fw.Secret, fw.SecretFile, fw.SecretEnv}, dir, getenv)
		w.HeaderValue = p.secret(key+".header_value",
			secretSource{fw.HeaderValue, fw.HeaderValueFile, fw.HeaderValueEnv}, dir, getenv)
		n.Webhooks = append(n.Webhooks, w)
	}
	if fs := fn.SMTP; fs != nil {
		s := &SMTP{Address: fs.Address, From: fs.From, Username: fs.Username,
			StartTLS: orDefault(fs.StartTLS, SMTPStartTLSRequired),
			Timeout:  p.duration("notify.smtp.timeout", fs.Timeout, DefaultSMTPTimeout)}
		s.Password = p.secret("notify.smtp.password", secretSource{fs.Password, fs.PasswordFile, fs.PasswordEnv}, dir, getenv)
		n.SMTP = s
	}
	return n
}

// duration reads a timeout between 1s and 5m; "" is def.
func (p *problems) duration(key, v string, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > maxNotifyTimeout {
		p.addf(key, "%q is not a duration between 1s and 5m (like \"10s\")", v)
		p.skip[key] = true
		return def
	}
	return d
}

// headerNameRE is an HTTP field name (RFC 9110 section 5.1, token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (n Notify) validate(p *problems) {
	if n.BaseURL != "" {
		if err := checkHTTPURL(n.BaseURL); err != nil {
			p.addf("notify.base_url", "%w", err)
		}
	}
	if err := CheckRecipients(n.DefaultRecipients); err != nil {
		p.addf("notify.default_recipients", "%w", err)
	}
	urls := map[string]int{}
	for i, w := range n.Webhooks {
		key := fmt.Sprintf("notify.webhooks[%d]", i)
		if w.URL == "" {
			p.addf(key+".url", "required")
		} else if err := checkHTTPURL(w.URL); err != nil {
			p.addf(key+".url", "%w", err)
		} else if j, dup := urls[w.URL]; dup {
			p.addf(key+".url", "already used by notify.webhooks[%d]", j)
		} else {
			urls[w.URL] = i
			if u, _ := url.Parse(w.URL); u.Scheme == "http" && w.HeaderValue != "" && !isLoopback(u.Hostname()) {
				p.addf(key+".url", "is http:// to a host that is not loopback: header_value would cross the "+
					"network in cleartext; use https:// (a secret only signs the body and may be used with http://)")
			}
		}
		switch {
		case w.Header == "" && w.HeaderValue != "":
			p.addf(key+".header", "required when header_value is set (e.g. \"Authorization\")")
		case w.Header != "" && !headerNameRE.MatchString(w.Header):
			p.addf(key+".header", "%q is not an HTTP header name", w.Header)
		case w.Header != "" && w.HeaderValue == "":
			p.addf(key+".header_value", "required when header is set (or header_value_file or header_value_env)")
		}
		if strings.ContainsAny(w.HeaderValue, "\r\n\x00") {
			p.addf(key+".header_value", "must be one line")
		}
	}
	if s := n.SMTP; s != nil {
		if err := checkHostPort(s.Address, 1, true); err != nil {
			p.addf("notify.smtp.address", "%q: %w", s.Address, err)
		}
		if s.From == "" {
			p.addf("notify.smtp.from", "required")
		} else if err := checkAddress(s.From); err != nil {
			p.addf("notify.smtp.from", "%w", err)
		}
		switch s.StartTLS {
		case SMTPStartTLSRequired, SMTPStartTLSIfOffered, SMTPStartTLSNone:
		default:
			p.addf("notify.smtp.starttls", "%q is not one of %q, %q, %q", s.StartTLS,
				SMTPStartTLSRequired, SMTPStartTLSIfOffered, SMTPStartTLSNone)
		}
		validPolicy := s.StartTLS == SMTPStartTLSRequired || s.StartTLS == SMTPStartTLSIfOffered || s.StartTLS == SMTPStartTLSNone
		if s.Username != "" && s.Password == "" {
			p.addf("notify.smtp.password", "required when username is set (or password_file or password_env)")
		}
		if s.Username == "" && s.Password != "" {
			p.addf("notify.smtp.username", "required when a password is set")
		}
		if host, _, err := splitHost(s.Address); err == nil && validPolicy && s.Username != "" && s.StartTLS != SMTPStartTLSRequired && !isLoopback(host) {
			p.addf("notify.smtp.starttls", "%q with a username: the password could cross the network in cleartext; "+
				"use %q", s.StartTLS, SMTPStartTLSRequired)
		}
	}
}

func splitHost(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", fmt.Errorf("no port")
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:], nil
}

// checkHTTPURL accepts an absolute http:// or https:// URL with a host and
// no user info (which is not quoted back: it may hold a password).
func checkHTTPURL(raw string) error {
	if strings.ContainsAny(raw, "\r\n\x00") {
		return fmt.Errorf("must be one line")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not contain user info; use header and header_value")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http:// or https:// URL", redactURL(raw))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", redactURL(raw))
	}
	return nil
}

// CheckRecipients checks e-mail recipients: at most MaxNotifyRecipients
// bare addresses (a@example.org, no display name), each named in its
// error. The wizard checks what the admin types with it.
func CheckRecipients(addrs []string) error {
	if len(addrs) > MaxNotifyRecipients {
		return fmt.Errorf("%d addresses; at most %d", len(addrs), MaxNotifyRecipients)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if err := checkAddress(a); err != nil {
			return err
		}
		if seen[strings.ToLower(a)] {
			return fmt.Errorf("%q is listed twice", a)
		}
		seen[strings.ToLower(a)] = true
	}
	return nil
}

// checkAddress accepts one bare address as SMTP's MAIL and RCPT take it.
func checkAddress(a string) error {
	if a == "" {
		return fmt.Errorf("an address is empty")
	}
	if strings.ContainsAny(a, "\r\n\x00,;<> \t\"") {
		return fmt.Errorf("%q is not an e-mail address like name@example.org", a)
	}
	parsed, err := mail.ParseAddress(a)
	domain := a[strings.LastIndexByte(a, '@')+1:]
	if err != nil || parsed.Address != a || (!strings.Contains(domain, ".") && domain != "localhost") {
		return fmt.Errorf("%q is not an e-mail address like name@example.org", a)
	}
	return nil
}

// redactURL keeps a URL's scheme, host and path: query strings of webhook
// URLs often carry a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	if u.RawQuery != "" {
		u.RawQuery = redacted
	}
	u.User, u.Fragment = nil, ""
	return u.String()
}

// String describes the webhook without its secrets.
func (w Webhook) String() string {
	return fmt.Sprintf("%s (secret=%s, header=%s, header_value=%s, timeout=%s)",
		redactURL(w.URL), redact(w.Secret), w.Header, redact(w.HeaderValue), w.Timeout)
}

// Format prints String for every verb, so no verb can reach the secrets.
func (w Webhook) Format(f fmt.State, _ rune) { fmt.Fprint(f, w.String()) }

// LogValue implements slog.LogValuer with the secrets redacted.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(w.URL)),
		slog.String("secret", redact(w.Secret)),
		slog.String("header", w.Header),
		slog.String("header_value", redact(w.HeaderValue)),
		slog.Duration("timeout", w.Timeout),
	)
}

// MarshalJSON encodes the webhook with the secrets redacted.
func (w Webhook) MarshalJSON() ([]byte, error) {
	type plain Webhook
	v := plain(w)
	v.URL, v.Secret, v.HeaderValue = redactURL(v.URL), redact(v.Secret), redact(v.HeaderValue)
	return json.Marshal(v)
}

// String describes the relay without its password.
func (s SMTP) String() string {
	return fmt.Sprintf("%s (from=%s, username=%s, password=%s, starttls=%s, timeout=%s)",
		s.Address, s.From, s.Username, redact(s.Password), s.StartTLS, s.Timeout)
}

// Format prints String for every verb, so no verb can reach the password.
func (s SMTP) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue implements slog.LogValuer with the password redacted.
func (s SMTP) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("address", s.Address),
		slog.String("from", s.From),
		slog.String("username", s.Username),
		slog.String("password", redact(s.Password)),
		slog.String("starttls", s.StartTLS),
		slog.Duration("timeout", s.Timeout),
	)
}

// MarshalJSON encodes the relay with the password redacted.
func (s SMTP) MarshalJSON() ([]byte, error) {
	type plain SMTP
	v := plain(s)
	v.Password = redact(v.Password)
	return json.Marshal(v)
}

// LogValue implements slog.LogValuer: the section, secrets redacted.
func (n Notify) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("base_url", n.BaseURL),
		slog.Any("default_recipients", n.DefaultRecipients),
		slog.Bool("default_webhook", n.DefaultWebhook),
	}
	for i, w := range n.Webhooks {
		attrs = append(attrs, slog.Any(fmt.Sprintf("webhooks[%d]", i), w))
	}
	if n.SMTP != nil {
		attrs = append(attrs, slog.Any("smtp", *n.SMTP))
	}
	return slog.GroupValue(attrs...)
}

// Cleartext lists the notification channels that may not be encrypted,
// like Config.Cleartext:
//
//	notify.webhooks[0]: HTTP without TLS (loopback address)
//	notify.smtp: SMTP without STARTTLS (starttls = "none")
func (n Notify) Cleartext() []string {
	var lines []string
	for i, w := range n.Webhooks {
		if u, err := url.Parse(w.URL); err == nil && u.Scheme == "http" {
			lines = append(lines, fmt.Sprintf("notify.webhooks[%d]: HTTP without TLS%s", i, plaintextReason(false, u.Hostname())))
		}
	}
	if s := n.SMTP; s != nil && s.StartTLS != SMTPStartTLSRequired {
		host, _, _ := splitHost(s.Address)
		what := "SMTP without STARTTLS"
		if s.StartTLS == SMTPStartTLSIfOffered {
			what = "SMTP without STARTTLS when the relay does not offer it"
		}
		lines = append(lines, fmt.Sprintf("notify.smtp: %s (starttls = %q)%s", what, s.StartTLS, plaintextReason(false, host)))
	}
	return lines
}
