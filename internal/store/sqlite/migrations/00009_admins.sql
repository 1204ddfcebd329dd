-- +goose Up
-- Console operators: accounts of their own, outside every tenant.
-- password_hash is '' until the one-time setup link (stored as its SHA-256
-- in setup_hash) is used; totp_secret is sealed with the data key.
CREATE TABLE admins (
    id             BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    email          TEXT    NOT NULL,
    email_key      TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    totp_secret    TEXT    NOT NULL DEFAULT '',
    totp_confirmed INTEGER NOT NULL DEFAULT 0,
    totp_step      INTEGER NOT NULL DEFAULT 0,
    setup_hash     TEXT    NOT NULL DEFAULT '',
    setup_expires  INTEGER NOT NULL DEFAULT 0,
    failed_checks  INTEGER NOT NULL DEFAULT 0,
    failed_since   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX admins_setup ON admins (setup_hash) WHERE setup_hash <> '';

-- Console sessions: the SHA-256 of the cookie's token, the CSRF token the
-- session's forms carry, and the idle (seen_at) and absolute expiries.
CREATE TABLE admin_sessions (
    hash       TEXT    NOT NULL PRIMARY KEY,
    admin_id   BLOB    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
