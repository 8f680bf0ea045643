package web

import (
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
