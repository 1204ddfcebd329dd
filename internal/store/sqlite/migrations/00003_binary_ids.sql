-- +goose Up
-- IDs (UUIDs) become their 16 bytes instead of 36 characters of text, and
-- users.email is NULL when the address is its own key (stored once). This
-- takes a user from about 380 to about 270 bytes. Each table is rebuilt:
-- the old ones are renamed first (which moves the foreign keys that point
-- at them), copied, and dropped children first, so no ON DELETE CASCADE
-- fires on a row that is being kept.
DROP INDEX users_tenant_email;
DROP INDEX sessions_user;
DROP INDEX outbox_due;
ALTER TABLE tenants RENAME TO tenants_v2;
ALTER TABLE users RENAME TO users_v2;
ALTER TABLE sessions RENAME TO sessions_v2;
ALTER TABLE codes RENAME TO codes_v2;
ALTER TABLE outbox RENAME TO outbox_v2;

CREATE TABLE tenants (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    name       TEXT    NOT NULL,
    public_key TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

-- Times are Unix milliseconds. failed_since is 0 while failed_checks is 0.
-- email is NULL when it equals email_key.
CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     BLOB    NOT NULL REFERENCES tenants (id),
    email         TEXT,
    email_key     TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    confirmed     INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    failed_checks INTEGER NOT NULL DEFAULT 0,
    failed_since  INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, email_key);

CREATE TABLE sessions (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id  BLOB    NOT NULL,
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE codes (
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    tenant_id  BLOB    NOT NULL,
    secret     TEXT    NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, purpose)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
    id              BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id       BLOB    NOT NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    params          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

INSERT INTO tenants SELECT unhex(replace(id, '-', '')), name, public_key, created_at FROM tenants_v2;
INSERT INTO users SELECT unhex(replace(id, '-', '')), unhex(replace(tenant_id, '-', '')),
    nullif(email, email_key), email_key, password_hash, confirmed, enabled, data,
    created_at, updated_at, failed_checks, failed_since FROM users_v2;
INSERT INTO sessions SELECT unhex(replace(id, '-', '')), unhex(replace(tenant_id, '-', '')),
    unhex(replace(user_id, '-', '')), created_at, expires_at FROM sessions_v2;
INSERT INTO codes SELECT unhex(replace(user_id, '-', '')), purpose, unhex(replace(tenant_id, '-', '')),
    secret, tries, created_at, expires_at FROM codes_v2;
INSERT INTO outbox SELECT unhex(replace(id, '-', '')), unhex(replace(tenant_id, '-', '')), kind, recipient,
    params, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at FROM outbox_v2;

DROP TABLE sessions_v2;
DROP TABLE codes_v2;
DROP TABLE outbox_v2;
DROP TABLE users_v2;
DROP TABLE tenants_v2;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md): restore a backup
-- taken before the upgrade to go back.
