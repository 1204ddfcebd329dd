-- +goose Up
-- Console operators: accounts of their own, outside every tenant.
-- password_hash is '' until the one-time setup link (stored as its SHA-256
-- in setup_hash) is used; totp_secret is sealed with the data key.
CREATE TABLE admins (
    id             UUID    NOT NULL PRIMARY KEY,
    email          TEXT    NOT NULL,
    email_key      TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    totp_secret    TEXT    NOT NULL DEFAULT '',
    totp_confirmed BOOLEAN NOT NULL DEFAULT FALSE,
    totp_step      BIGINT  NOT NULL DEFAULT 0,
    setup_hash     TEXT    NOT NULL DEFAULT '',
    setup_expires  BIGINT  NOT NULL DEFAULT 0,
    failed_checks  INTEGER NOT NULL DEFAULT 0,
    failed_since   BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX admins_setup ON admins (setup_hash) WHERE setup_hash <> '';

-- Console sessions: the SHA-256 of the cookie's token, the CSRF token the
-- session's forms carry, and the idle (seen_at) and absolute expiries.
CREATE TABLE admin_sessions (
    hash       TEXT    NOT NULL PRIMARY KEY,
    admin_id   UUID    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    seen_at    BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
