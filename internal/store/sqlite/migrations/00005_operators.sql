-- +goose Up
-- Listing users in creation order, by cursor: (created_at, id) within a
-- tenant. The primary key (id) is part of every index of a WITHOUT ROWID
-- table already, so naming it here costs nothing more.
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

-- What an operator sees of a session. last_used_at is refreshed at most
-- every few minutes (0: not used since it was created).
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN surface      TEXT    NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN client_ip    TEXT    NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent   TEXT    NOT NULL DEFAULT '';

-- Tenants are named (a backend request may name one), and a rotated public
-- key keeps working until previous_key_until.
CREATE UNIQUE INDEX tenants_name ON tenants (name);
ALTER TABLE tenants ADD COLUMN previous_key       TEXT;
ALTER TABLE tenants ADD COLUMN previous_key_until INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX tenants_previous_key ON tenants (previous_key) WHERE previous_key IS NOT NULL;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
