-- Sessions of people signed in to the web UI. The id is the SHA-256 of the
-- cookie's token, so a copy of the database cannot be used to sign in.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    uid        TEXT NOT NULL,
    dn         TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL CHECK (role IN ('admin', 'helpdesk')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Wizard state of a session (selection and choices so far), as JSON, so
-- that the selection persists across steps and back links.
CREATE TABLE wizard_state (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
