-- The source folder's HIGHESTMODSEQ (RFC 7162 CONDSTORE) at a staged
-- move's last sync, under the UIDVALIDITY it was read for: the next sync
-- fetches only the flags changed since (FETCH ... CHANGEDSINCE) instead of
-- every message's.
CREATE TABLE synced_modseq (
    folder_id   INTEGER PRIMARY KEY REFERENCES folders (id) ON DELETE CASCADE,
    uidvalidity INTEGER NOT NULL,
    modseq      INTEGER NOT NULL
);
