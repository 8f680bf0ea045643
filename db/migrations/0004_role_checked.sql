-- role_checked_at is when the session's role was last confirmed against the
-- directory (RFC 3339, UTC; '' for sessions made before this column, which
-- are checked at their next request). The web UI checks again when it is a
-- few minutes old, so a person removed from the admin or helpdesk group
-- loses access within minutes instead of at the session's expiry.
ALTER TABLE sessions ADD COLUMN role_checked_at TEXT NOT NULL DEFAULT '';
