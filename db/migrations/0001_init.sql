-- Jobs: one batch of users moved to one target with one policy and schedule.
CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY,
    created_at         TEXT    NOT NULL,
    created_by         TEXT    NOT NULL,
    target             TEXT    NOT NULL,
    policy             TEXT    NOT NULL CHECK (policy IN ('abandon', 'skip')),
    max_bad            INTEGER NOT NULL DEFAULT 0 CHECK (max_bad >= 0),
    parallel           INTEGER NOT NULL DEFAULT 4 CHECK (parallel BETWEEN 1 AND 30),
    keep_source        INTEGER NOT NULL DEFAULT 0,
    start_at           TEXT    NOT NULL DEFAULT '',
    cancel_after_hours INTEGER NOT NULL DEFAULT 0 CHECK (cancel_after_hours BETWEEN 0 AND 48),
    state              TEXT    NOT NULL DEFAULT 'queued',
    -- set when the first move starts: cancel_after_hours counts from here
    started_at         TEXT    NOT NULL DEFAULT '',
    finished_at        TEXT    NOT NULL DEFAULT ''
);

-- Moves: one user's mailbox within a job. state is the outcome so far;
-- phase is where a running (or interrupted) move is, so a restart resumes it.
CREATE TABLE moves (
    id                   INTEGER PRIMARY KEY,
    job_id               INTEGER NOT NULL REFERENCES jobs (id),
    uid                  TEXT    NOT NULL,
    user_dn              TEXT    NOT NULL DEFAULT '',
    source               TEXT    NOT NULL DEFAULT '',
    target               TEXT    NOT NULL,
    state                TEXT    NOT NULL DEFAULT 'queued',
    phase                TEXT    NOT NULL DEFAULT '',
    current_folder       TEXT    NOT NULL DEFAULT '',
    msgs_total           INTEGER NOT NULL DEFAULT 0,
    msgs_done            INTEGER NOT NULL DEFAULT 0,
    bytes_total          INTEGER NOT NULL DEFAULT 0,
    bytes_done           INTEGER NOT NULL DEFAULT 0,
    skipped              INTEGER NOT NULL DEFAULT 0,
    error                TEXT    NOT NULL DEFAULT '',
    directory_updated_at TEXT    NOT NULL DEFAULT '',
    source_removed_at    TEXT    NOT NULL DEFAULT '',
    created_at           TEXT    NOT NULL,
    started_at           TEXT    NOT NULL DEFAULT '',
    finished_at          TEXT    NOT NULL DEFAULT '',
    cancel_requested     INTEGER NOT NULL DEFAULT 0,
    attempt              INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX moves_job ON moves (job_id);
-- A user is in at most one unfinished move: the database enforces it, so two
-- jobs created at once cannot both claim the same mailbox.
CREATE UNIQUE INDEX moves_one_unfinished ON moves (uid) WHERE state IN ('queued', 'running');

-- Folders: the plan and checkpoint of one source folder of a move.
CREATE TABLE folders (
    id                  INTEGER PRIMARY KEY,
    move_id             INTEGER NOT NULL REFERENCES moves (id) ON DELETE CASCADE,
    source_name         TEXT    NOT NULL,
    target_name         TEXT    NOT NULL,
    special_use         TEXT    NOT NULL DEFAULT '',
    subscribed          INTEGER NOT NULL DEFAULT 0,
    -- we subscribed the target folder, so an abandoned move unsubscribes it
    subscribed_by_us    INTEGER NOT NULL DEFAULT 0,
    no_select           INTEGER NOT NULL DEFAULT 0,
    -- existing: the target had it; creating: CREATE sent, outcome unknown;
    -- created: ours, so an abandoned move deletes it.
    create_state        TEXT    NOT NULL DEFAULT 'existing',
    source_uidvalidity  INTEGER NOT NULL DEFAULT 0,
    target_uidvalidity  INTEGER NOT NULL DEFAULT 0,
    -- target UIDNEXT before our first APPEND: every target UID we may have
    -- appended is at or above it, which bounds crash reconciliation.
    target_uid_floor    INTEGER NOT NULL DEFAULT 0,
    state               TEXT    NOT NULL DEFAULT 'pending',
    msgs_total          INTEGER NOT NULL DEFAULT 0,
    bytes_total         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (move_id, source_name)
);

-- Copies: which source UIDs (under the folder's source UIDVALIDITY) are on the
-- target. 'sending' is written before the APPEND and 'done' after its tagged
-- OK, so after a crash the uncertain ones are exactly the 'sending' rows.
CREATE TABLE copies (
    folder_id  INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    source_uid INTEGER NOT NULL,
    target_uid INTEGER NOT NULL DEFAULT 0,
    state      TEXT    NOT NULL CHECK (state IN ('sending', 'done')),
    size       INTEGER NOT NULL,
    sha256     BLOB,
    PRIMARY KEY (folder_id, source_uid)
) WITHOUT ROWID;

-- Skipped: items the policy dropped, for the failure report.
CREATE TABLE skipped (
    id         INTEGER PRIMARY KEY,
    move_id    INTEGER NOT NULL REFERENCES moves (id) ON DELETE CASCADE,
    folder     TEXT    NOT NULL,
    source_uid INTEGER NOT NULL,
    message_id TEXT    NOT NULL DEFAULT '',
    subject    TEXT    NOT NULL DEFAULT '',
    date       TEXT    NOT NULL DEFAULT '',
    size       INTEGER NOT NULL DEFAULT 0,
    error      TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    UNIQUE (move_id, folder, source_uid)
);

-- Events: the history of a move, for the report and the job page.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    move_id INTEGER NOT NULL DEFAULT 0,
    at      TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    message TEXT    NOT NULL
);
CREATE INDEX events_move ON events (move_id);

-- Audit: who started, cancelled or retried what.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    job_id  INTEGER NOT NULL DEFAULT 0,
    move_id INTEGER NOT NULL DEFAULT 0,
    detail  TEXT    NOT NULL DEFAULT ''
);
