-- verified is 1 once the target's copy was read back and its SHA-256 equals
-- the one computed from the source's bytes while copying: "verified" means
-- the same bytes, not the same size (Cyrus as shipped rewrites 8-bit header
-- bytes and keeps the size). A copy sent again starts unverified.
ALTER TABLE copies ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
