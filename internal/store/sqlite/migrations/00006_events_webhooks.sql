-- +goose Up
-- The audit log: one row per state change or authentication, written in
-- the transaction of what it records. ids are UUIDv7: time-ordered, so the
-- primary key is also the log's order and its time index.
CREATE TABLE events (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id  BLOB    NOT NULL,
    time       INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    user_id    BLOB,
    actor      TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    detail     TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_user ON events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_type ON events (tenant_id, type, id);

-- Webhook endpoints, per tenant. events lists the event types an endpoint
-- takes, space-separated with a space at each end (" user.created * "), so
-- one LIKE finds the endpoints of a type. secret is sealed with the data
-- key.
CREATE TABLE webhook_endpoints (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id  BLOB    NOT NULL,
    url        TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- One delivery per event and endpoint, written with the event; the webhook
-- relay sends it (the payload is the event, read when sent), as the mail
-- relay sends the outbox.
CREATE TABLE webhook_deliveries (
    event_id        BLOB    NOT NULL,
    endpoint_id     BLOB    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id       BLOB    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, endpoint_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (claimed_until, endpoint_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
