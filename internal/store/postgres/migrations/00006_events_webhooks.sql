-- +goose Up
-- See the SQLite migration of the same number.
CREATE TABLE events (
    id         UUID   NOT NULL PRIMARY KEY,
    tenant_id  UUID   NOT NULL,
    time       BIGINT NOT NULL,
    type       TEXT   NOT NULL,
    user_id    UUID,
    actor      TEXT   NOT NULL,
    ip         TEXT   NOT NULL,
    request_id TEXT   NOT NULL,
    detail     TEXT   NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_user ON events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_type ON events (tenant_id, type, id);

CREATE TABLE webhook_endpoints (
    id         UUID   NOT NULL PRIMARY KEY,
    tenant_id  UUID   NOT NULL,
    url        TEXT   NOT NULL,
    events     TEXT   NOT NULL,
    secret     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_deliveries (
    event_id        UUID    NOT NULL,
    endpoint_id     UUID    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id       UUID    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id);
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (claimed_until, endpoint_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
