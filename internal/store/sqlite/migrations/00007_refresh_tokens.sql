-- +goose Up
-- Refresh tokens (the public API's POST /token): one row per token, by
-- the SHA-256 of the token. A session's tokens die with it.
CREATE TABLE refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    tenant_id  BLOB    NOT NULL,
    session_id BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0,
    next       TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
