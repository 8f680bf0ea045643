-- Notifications (issue 11). A job says whom to tell: notify_emails is a
-- comma-separated list of addresses ('' for none) and notify_webhook whether
-- the configured webhooks are called.
ALTER TABLE jobs ADD COLUMN notify_emails TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN notify_webhook INTEGER NOT NULL DEFAULT 0;

-- The outbox. A notification is written in the transaction of the state
-- change that causes it (a job finished, a mailbox failed or was
-- abandoned), with the facts it reports as they were then, so that a
-- notification committed before a crash is sent after the restart.
-- event_key is the stable id in every delivery of it: receivers
-- de-duplicate on it (delivery is at least once).
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    event_key  TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL CHECK (kind IN ('job-finished', 'mailbox-failed', 'mailbox-abandoned')),
    job_id     INTEGER NOT NULL REFERENCES jobs (id),
    move_id    INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    outcome    TEXT    NOT NULL, -- the job's or the move's state
    target     TEXT    NOT NULL DEFAULT '',
    uid        TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT '',
    counts     TEXT    NOT NULL DEFAULT '{}', -- the job's moves by state, JSON
    emails     TEXT    NOT NULL DEFAULT '',
    webhook    INTEGER NOT NULL DEFAULT 0,
    -- set when the sender made its deliveries (one per configured webhook,
    -- one for the e-mail), which depend on the configuration at that time
    expanded   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_unexpanded ON notifications (id) WHERE expanded = 0;

-- One delivery of a notification to one destination. next_at (Unix
-- milliseconds, which sort as numbers) is when it is due; while a sender
-- works on it, it is the end of the sender's lease, so a delivery whose
-- sender died is taken up again.
CREATE TABLE notification_deliveries (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    channel         TEXT    NOT NULL CHECK (channel IN ('webhook', 'email')),
    destination     TEXT    NOT NULL, -- the webhook URL, or the recipients
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    sent_at         TEXT    NOT NULL DEFAULT '',
    failed_at       TEXT    NOT NULL DEFAULT '', -- given up
    last_error      TEXT    NOT NULL DEFAULT '',
    UNIQUE (notification_id, channel, destination)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at)
    WHERE sent_at = '' AND failed_at = '';
