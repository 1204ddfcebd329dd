-- +goose Up
-- See the SQLite migration of the same number for what each table holds.
CREATE TABLE sessions (
    id         UUID   NOT NULL PRIMARY KEY,
    tenant_id  UUID   NOT NULL,
    user_id    UUID   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE codes (
    user_id    UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    tenant_id  UUID    NOT NULL,
    secret     TEXT    NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

CREATE TABLE signing_keys (
    kid         TEXT   NOT NULL PRIMARY KEY,
    algorithm   TEXT   NOT NULL,
    public_key  TEXT   NOT NULL,
    private_key TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    id              UUID    NOT NULL PRIMARY KEY,
    tenant_id       UUID    NOT NULL,
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    params          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE rate_counters (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        INTEGER NOT NULL
);

-- +goose Down
DROP TABLE rate_counters;
DROP TABLE outbox;
DROP TABLE signing_keys;
DROP TABLE codes;
DROP TABLE sessions;
