package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// The notification outbox (migration 0005). A notification is written in
// the transaction of the state change it reports: FinishJobIfDone writes
// "job-finished", saveMove "mailbox-failed" and "mailbox-abandoned", each
// only for a job that names someone to tell. The sender (migrate/notify)
// expands a notification into deliveries, one per configured webhook and
// one for the e-mail, and claims due deliveries under a lease: a sender
// that dies mid-delivery leaves the delivery due again when its lease
// ends. Delivery is therefore at least once; Notification.Key is the same
// in every attempt so that receivers can de-duplicate.

// NotificationKind is what a notification reports.
type NotificationKind string

// Notification kinds.
const (
	NotifyJobFinished      NotificationKind = "job-finished"
	NotifyMailboxFailed    NotificationKind = "mailbox-failed"
	NotifyMailboxAbandoned NotificationKind = "mailbox-abandoned"
)

// Delivery channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Notification is one event to tell people about, with the facts as they
// were when it happened.
type Notification struct {
	ID        int64
	Key       string // stable id, e.g. "job-12-finished-1"
	Kind      NotificationKind
	JobID     int64
	MoveID    int64 // 0 for job-finished
	CreatedAt time.Time
	Outcome   string // the job's state (job-finished) or the move's
	Target    string
	UID       string // the mailbox (mailbox-*)
	Error     string // the move's error (mailbox-*)
	Counts    map[model.MoveState]int
	Emails    []string
	Webhook   bool
}

// Delivery is one notification to one destination.
type Delivery struct {
	ID           int64
	Notification Notification
	Channel      string // ChannelWebhook or ChannelEmail
	Destination  string // the URL, or the recipients joined by ","
	Attempts     int    // including the one it was claimed for
	SentAt       time.Time
	FailedAt     time.Time // given up
	LastError    string
}

// enqueueJobFinished writes the job-finished notification of a job that
// tx just finished, if the job names anyone to tell.
func enqueueJobFinished(ctx context.Context, tx *sql.Tx, now time.Time, jobID int64) error {
	var j model.Job
	var emails string
	var webhook int
	if err := tx.QueryRowContext(ctx, `SELECT state, target, notify_emails, notify_webhook FROM jobs WHERE id = ?`, jobID).
		Scan(&j.State, &j.Target, &emails, &webhook); err != nil {
		return fmt.Errorf("read job %d for its notification: %w", jobID, err)
	}
	if emails == "" && webhook == 0 {
		return nil
	}
	// A retried job finishes again, and that is news again: the key
	// counts the job's finishes.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE job_id = ? AND kind = ?`,
		jobID, NotifyJobFinished).Scan(&n); err != nil {
		return err
	}
	counts, err := jobStateCounts(ctx, tx, jobID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO notifications
		(event_key, kind, job_id, created_at, outcome, target, counts, emails, webhook)
		VALUES (?,?,?,?,?,?,?,?,?)`,
		fmt.Sprintf("job-%d-finished-%d", jobID, n+1), NotifyJobFinished, jobID, formatTime(now),
		j.State, j.Target, counts, emails, webhook)
	if err != nil {
		return fmt.Errorf("enqueue notification of job %d: %w", jobID, err)
	}
	return nil
}

// enqueueMoveEnded writes the notification of a move that tx just saved
// as failed or abandoned, once per attempt, if its job names anyone to
// tell.
func enqueueMoveEnded(ctx context.Context, tx *sql.Tx, m model.Move) error {
	kind := NotifyMailboxFailed
	switch m.State {
	case model.MoveFailed:
	case model.MoveAbandoned:
		kind = NotifyMailboxAbandoned
	default:
		return nil
	}
	// The job, uid and target as stored: the caller's value may carry
	// only what it changes.
	var emails string
	var webhook int
	err := tx.QueryRowContext(ctx, `SELECT m.job_id, m.uid, m.target, j.notify_emails, j.notify_webhook
		FROM moves m JOIN jobs j ON j.id = m.job_id WHERE m.id = ?`, m.ID).
		Scan(&m.JobID, &m.UID, &m.Target, &emails, &webhook)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no such move: the UPDATE changed nothing
	}
	if err != nil {
		return fmt.Errorf("read move %d for its notification: %w", m.ID, err)
	}
	if emails == "" && webhook == 0 {
		return nil
	}
	counts, err := jobStateCounts(ctx, tx, m.JobID)
	if err != nil {
		return err
	}
	// OR IGNORE: saving the same ended attempt again is not a new event.
	_, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO notifications
		(event_key, kind, job_id, move_id, created_at, outcome, target, uid, error, counts, emails, webhook)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		fmt.Sprintf("move-%d-attempt-%d-%s", m.ID, m.Attempt, m.State), kind, m.JobID, m.ID,
		formatTime(m.FinishedAt), m.State, m.Target, m.UID, m.Error, counts, emails, webhook)
	if err != nil {
		return fmt.Errorf("enqueue notification of move %d: %w", m.ID, err)
	}
	return nil
}

// jobStateCounts is the job's moves by state, as JSON.
func jobStateCounts(ctx context.Context, tx *sql.Tx, jobID int64) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT state, count(*) FROM moves WHERE job_id = ? GROUP BY state`, jobID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	counts := map[model.MoveState]int{}
	for rows.Next() {
		var st model.MoveState
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return "", err
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	b, err := json.Marshal(counts)
	return string(b), err
}

// ExpandNotifications makes the deliveries of every notification that has
// none yet: one per webhook URL (when the notification asks for the
// webhook) and one for its e-mail recipients (when smtp is true, i.e. a
// relay is configured). A notification asking for a channel that is not
// configured gets a delivery that failed at once, recorded in the audit,
// so that the admin learns that nobody was told. It returns how many
// deliveries it made.
func (d *DB) ExpandNotifications(ctx context.Context, webhooks []string, smtp bool) (int, error) {
	made := 0
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		ns, err := queryNotifications(ctx, tx, `WHERE expanded = 0 ORDER BY id LIMIT 100`)
		if err != nil {
			return err
		}
		now := d.Now()
		for _, n := range ns {
			add := func(channel, dest, failure string) error {
				failedAt := ""
				if failure != "" {
					failedAt = formatTime(now)
				}
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO notification_deliveries
					(notification_id, channel, destination, next_at, failed_at, last_error) VALUES (?,?,?,?,?,?)`,
					n.ID, channel, dest, now.UnixMilli(), failedAt, failure); err != nil {
					return fmt.Errorf("add delivery of notification %d: %w", n.ID, err)
				}
				made++
				if failure != "" {
					return recordGiveUp(ctx, tx, now, n, channel, dest, failure)
				}
				return nil
			}
			if n.Webhook {
				if len(webhooks) == 0 {
					if err := add(ChannelWebhook, "", "no webhook is configured ([notify] webhooks)"); err != nil {
						return err
					}
				}
				for _, u := range webhooks {
					if err := add(ChannelWebhook, u, ""); err != nil {
						return err
					}
				}
			}
			if len(n.Emails) > 0 {
				failure := ""
				if !smtp {
					failure = "no SMTP relay is configured ([notify.smtp])"
				}
				if err := add(ChannelEmail, strings.Join(n.Emails, ","), failure); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET expanded = 1 WHERE id = ?`, n.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return made, err
}

// ClaimDeliveries returns up to limit deliveries that are due, oldest due
// first, each with its attempt counted and leased for lease: until then no
// other claim returns it. A delivery neither marked sent nor failed within
// its lease (its sender died) is due again.
func (d *DB) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]Delivery, error) {
	var out []Delivery
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		now := d.Now()
		rows, err := tx.QueryContext(ctx, `SELECT id FROM notification_deliveries
			WHERE sent_at = '' AND failed_at = '' AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
			now.UnixMilli(), limit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE notification_deliveries SET attempts = attempts + 1, next_at = ?
				WHERE id = ?`, now.Add(lease).UnixMilli(), id); err != nil {
				return err
			}
			dl, err := delivery(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, dl)
		}
		return nil
	})
	return out, err
}

// DeliverySent records that a delivery reached its destination.
func (d *DB) DeliverySent(ctx context.Context, id int64) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE notification_deliveries SET sent_at = ?, last_error = '' WHERE id = ?`,
		formatTime(d.Now()), id)
	return err
}

// DeliveryFailed records a failed attempt. With a non-zero retryAt the
// delivery is due again then; with a zero one it is given up, which the
// audit records (and, for a mailbox's notification, the mailbox's
// history), so that a notification nobody received is visible.
func (d *DB) DeliveryFailed(ctx context.Context, id int64, failure string, retryAt time.Time) error {
	return execTx(ctx, d, func(tx *sql.Tx) error {
		if !retryAt.IsZero() {
			_, err := tx.ExecContext(ctx, `UPDATE notification_deliveries SET last_error = ?, next_at = ? WHERE id = ?`,
				failure, retryAt.UnixMilli(), id)
			return err
		}
		now := d.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE notification_deliveries SET last_error = ?, failed_at = ? WHERE id = ?`,
			failure, formatTime(now), id); err != nil {
			return err
		}
		dl, err := delivery(ctx, tx, id)
		if err != nil {
			return err
		}
		return recordGiveUp(ctx, tx, now, dl.Notification, dl.Channel, dl.Destination,
			fmt.Sprintf("%s (after %d attempts)", failure, dl.Attempts))
	})
}

// recordGiveUp writes a delivery given up into the audit and, for a
// mailbox's notification, into the mailbox's history.
func recordGiveUp(ctx context.Context, tx *sql.Tx, now time.Time, n Notification, channel, dest, failure string) error {
	// A webhook URL's query often carries a token: the audit is read by
	// every admin and helpdesk, so it shows the URL without it.
	what := "webhook " + dest
	if i := strings.IndexByte(dest, '?'); i >= 0 {
		what = "webhook " + dest[:i] + "?REDACTED"
	}
	if channel == ChannelEmail {
		what = "e-mail to " + dest
	}
	if dest == "" {
		what = channel
	}
	detail := fmt.Sprintf("%s of %s not sent: %s", what, n.Key, failure)
	if err := addAudit(ctx, tx, now, "notifier", "notification failed", n.JobID, n.MoveID, detail); err != nil {
		return err
	}
	if n.MoveID == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO events (job_id, move_id, at, kind, message) VALUES (?,?,?,?,?)`,
		n.JobID, n.MoveID, formatTime(now), "notify-failed", detail)
	return err
}

// JobDeliveries returns every delivery of a job's notifications, oldest
// first.
func (d *DB) JobDeliveries(ctx context.Context, jobID int64) ([]Delivery, error) {
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT nd.id FROM notification_deliveries nd
		JOIN notifications n ON n.id = nd.notification_id WHERE n.job_id = ? ORDER BY nd.id`, jobID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Delivery
	for _, id := range ids {
		dl, err := delivery(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	return out, nil
}

// JobNotifications returns a job's notifications, oldest first.
func (d *DB) JobNotifications(ctx context.Context, jobID int64) ([]Notification, error) {
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return queryNotifications(ctx, tx, `WHERE job_id = ? ORDER BY id`, jobID)
}

func delivery(ctx context.Context, tx *sql.Tx, id int64) (Delivery, error) {
	var dl Delivery
	var nid int64
	var sent, failed string
	err := tx.QueryRowContext(ctx, `SELECT id, notification_id, channel, destination, attempts, sent_at, failed_at, last_error
		FROM notification_deliveries WHERE id = ?`, id).
		Scan(&dl.ID, &nid, &dl.Channel, &dl.Destination, &dl.Attempts, &sent, &failed, &dl.LastError)
	if err != nil {
		return Delivery{}, fmt.Errorf("delivery %d: %w", id, err)
	}
	dl.SentAt, dl.FailedAt = parseTime(sent), parseTime(failed)
	ns, err := queryNotifications(ctx, tx, `WHERE id = ?`, nid)
	if err != nil {
		return Delivery{}, err
	}
	if len(ns) != 1 {
		return Delivery{}, fmt.Errorf("notification %d of delivery %d: %w", nid, id, ErrNotFound)
	}
	dl.Notification = ns[0]
	return dl, nil
}

func queryNotifications(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]Notification, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, event_key, kind, job_id, move_id, created_at, outcome, target,
		uid, error, counts, emails, webhook FROM notifications `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var created, counts, emails string
		var webhook int
		if err := rows.Scan(&n.ID, &n.Key, &n.Kind, &n.JobID, &n.MoveID, &created, &n.Outcome, &n.Target,
			&n.UID, &n.Error, &counts, &emails, &webhook); err != nil {
			return nil, err
		}
		n.CreatedAt, n.Emails, n.Webhook = parseTime(created), splitList(emails), webhook != 0
		if err := json.Unmarshal([]byte(counts), &n.Counts); err != nil {
			return nil, fmt.Errorf("notification %d: counts: %w", n.ID, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// splitList reads a comma-separated column; "" is none.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// DeliveryCounts is how a job's notifications fared.
type DeliveryCounts struct {
	Sent, Pending, Failed int
	// LastError is the failure of the newest delivery not sent that
	// failed ("" when none did).
	LastError string
}

// JobDeliveryCounts counts a job's deliveries: sent, pending (not yet
// attempted, or failed and to be retried) and given up.
func (d *DB) JobDeliveryCounts(ctx context.Context, jobID int64) (DeliveryCounts, error) {
	var c DeliveryCounts
	err := d.sql.QueryRowContext(ctx, `SELECT
		coalesce(sum(nd.sent_at <> ''), 0),
		coalesce(sum(nd.sent_at = '' AND nd.failed_at = ''), 0),
		coalesce(sum(nd.failed_at <> ''), 0),
		coalesce((SELECT x.last_error FROM notification_deliveries x JOIN notifications y ON y.id = x.notification_id
			WHERE y.job_id = ? AND x.sent_at = '' AND x.last_error <> '' ORDER BY x.id DESC LIMIT 1), '')
		FROM notification_deliveries nd JOIN notifications n ON n.id = nd.notification_id WHERE n.job_id = ?`,
		jobID, jobID).Scan(&c.Sent, &c.Pending, &c.Failed, &c.LastError)
	return c, err
}
