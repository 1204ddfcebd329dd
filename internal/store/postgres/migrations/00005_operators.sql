-- +goose Up
-- See the SQLite migration of the same number.
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

ALTER TABLE sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN surface      TEXT   NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN client_ip    TEXT   NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent   TEXT   NOT NULL DEFAULT '';

CREATE UNIQUE INDEX tenants_name ON tenants (name);
ALTER TABLE tenants ADD COLUMN previous_key       TEXT;
ALTER TABLE tenants ADD COLUMN previous_key_until BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX tenants_previous_key ON tenants (previous_key) WHERE previous_key IS NOT NULL;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
