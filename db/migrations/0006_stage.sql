-- Staged moves (issue 12). A job with stage = 1 copies each mailbox and
-- then waits, synced, re-syncing now and then, until the move is completed:
-- by an admin (moves.complete_requested) or at the job's complete_at.
ALTER TABLE jobs ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN complete_at TEXT NOT NULL DEFAULT '';
ALTER TABLE moves ADD COLUMN last_sync_at TEXT NOT NULL DEFAULT '';
ALTER TABLE moves ADD COLUMN syncs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE moves ADD COLUMN complete_requested INTEGER NOT NULL DEFAULT 0;
-- When the final delta pass after the cut-over ended: the cut-over window
-- runs from directory_updated_at to here.
ALTER TABLE moves ADD COLUMN delta_done_at TEXT NOT NULL DEFAULT '';

-- A synced move is unfinished: the user is in no other open move.
DROP INDEX moves_one_unfinished;
CREATE UNIQUE INDEX moves_one_unfinished ON moves (uid) WHERE state IN ('queued', 'running', 'synced');

-- The flags of each copy as the last sync before the cut-over left them on
-- both sides: the final delta pass carries a flag change made on the source
-- after that sync only where the target still has these flags (the user
-- changed nothing there), so neither side's change is lost silently.
CREATE TABLE synced_flags (
    folder_id  INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    source_uid INTEGER NOT NULL,
    flags      TEXT    NOT NULL,
    PRIMARY KEY (folder_id, source_uid)
) WITHOUT ROWID;
