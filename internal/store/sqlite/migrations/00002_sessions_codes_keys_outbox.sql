-- +goose Up
-- One row per login; a token is accepted only while its session row exists.
CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- One live code per user and purpose: a newer code replaces the older.
-- secret: for 'reset', the SHA-256 of the code; for 'verify', the token
-- sealed with the data key (the Thunder surface must return it).
CREATE TABLE codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    tenant_id  TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, purpose)
) STRICT, WITHOUT ROWID;

-- Token signing keys, shared by every node. private_key is sealed with the
-- data key. A key with retired_at = 0 may sign; retired keys still verify
-- until the tokens they signed have expired.
CREATE TABLE signing_keys (
    kid         TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,
    private_key TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The transactional outbox: a use case writes its email here in the same
-- transaction as its state change; the relay sends it. params is sealed
-- with the data key and wiped once the message is sent or abandoned.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
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

-- Fixed-window counters shared by all nodes (per-address email limits).
CREATE TABLE rate_counters (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE rate_counters;
DROP TABLE outbox;
DROP TABLE signing_keys;
DROP TABLE codes;
DROP TABLE sessions;
