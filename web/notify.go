package web

import (
	"fmt"
	"strings"

	"github.com/movewizard/movewizard/migrate/model"
)

// jobNotify is the job settings card's "Notify" line: "e-mail to
// a@example.org, b@example.org and the webhook".
func jobNotify(j model.Job) string {
	var parts []string
	if r := j.NotifyRecipients(); len(r) > 0 {
		parts = append(parts, "e-mail to "+strings.Join(r, ", "))
	}
	if j.NotifyWebhook {
		parts = append(parts, "the webhook")
	}
	return strings.Join(parts, " and ")
}

// NotifyCounts is how a job's notification deliveries fared: sent,
// waiting (to be attempted or retried) and given up, with the newest
// failure.
type NotifyCounts struct {
	Sent, Pending, Failed int
	LastError             string
}

// notifyStatus says how the job's notifications fared: "2 sent, 1 not
// sent: webhook answered 500 Internal Server Error (see the audit)".
func notifyStatus(c NotifyCounts) string {
	var parts []string
	if c.Sent > 0 {
		parts = append(parts, fmt.Sprintf("%d sent", c.Sent))
	}
	if c.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting", c.Pending))
	}
	if c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d not sent (see the audit)", c.Failed))
	}
	s := strings.Join(parts, ", ")
	if c.LastError != "" {
		s += "; last failure: " + c.LastError
	}
	return s
}
