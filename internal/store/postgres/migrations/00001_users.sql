-- +goose Up
CREATE TABLE tenants (
    id         UUID   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    public_key TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Times are Unix milliseconds, as on SQLite, so one SQL text serves both.
-- data is the JSON text exactly as stored (not jsonb, which would reorder
-- keys), so both engines return the same bytes.
CREATE TABLE users (
    id            UUID    NOT NULL PRIMARY KEY,
    tenant_id     UUID    NOT NULL REFERENCES tenants (id),
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    confirmed     BOOLEAN NOT NULL,
    enabled       BOOLEAN NOT NULL,
    data          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    failed_checks INTEGER NOT NULL DEFAULT 0,
    failed_since  BIGINT  NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, email_key);

-- +goose Down
DROP TABLE users;
DROP TABLE tenants;
