-- +goose Up
-- TOTP two-factor sign-in: one secret per user (sealed with the data key),
-- confirmed once its first code was right; last_step is the time step of
-- the last code accepted (a code is good once). Recovery codes are stored
-- as SHA-256 hashes, single use.
CREATE TABLE totp (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  BLOB    NOT NULL,
    secret     TEXT    NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0,
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE recovery_codes (
    user_id BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT    NOT NULL,
    PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
