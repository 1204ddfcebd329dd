-- +goose Up
-- A user in fewer bytes (issue 18: at most 300 per user at a million):
-- the tenant is its number in the row and in each of the users' indexes
-- (one byte or none, where its ID took 16 in each), and the password hash
-- is a BLOB, so that an argon2id hash is stored as its parts (56 bytes,
-- where its PHC text took 97; store/hash.go). The copy packs the hashes
-- already stored with usher_pack_hash, which Usher's SQLite driver
-- provides (sqlite.go); a hash in another format stays its text.
--
-- Tenants get their numbers here, and a new tenant the next one never
-- given (tenants.no is only ever used to join users to their tenant, in
-- SQL). tenant_numbers keeps the last one given, so that a deleted
-- tenant's number is not given again: a user left behind by a delete
-- made outside Usher (foreign keys off) joins no new tenant.
ALTER TABLE tenants ADD COLUMN no INTEGER;
UPDATE tenants SET no = rowid;
CREATE UNIQUE INDEX tenants_no ON tenants (no);
CREATE TABLE tenant_numbers (last INTEGER NOT NULL) STRICT;
INSERT INTO tenant_numbers SELECT coalesce(max(no), 0) FROM tenants;
-- +goose StatementBegin
CREATE TRIGGER tenants_number AFTER INSERT ON tenants WHEN NEW.no IS NULL
BEGIN
    UPDATE tenant_numbers SET last = max(last, (SELECT coalesce(max(no), 0) FROM tenants)) + 1;
    UPDATE tenants SET no = (SELECT last FROM tenant_numbers) WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- The users table is rebuilt. Renaming a table moves the foreign keys
-- that point at it, and dropping one deletes (with its cascades) what
-- points at it, so the tables that point at users (and refresh_tokens,
-- which points at sessions) are rebuilt too: renamed, copied, and the old
-- ones dropped children first, as in version 3.
DROP INDEX users_tenant_email;
DROP INDEX users_tenant_created;
DROP INDEX users_disabled;
DROP INDEX users_failing;
DROP INDEX sessions_user;
DROP INDEX refresh_tokens_session;
ALTER TABLE users RENAME TO users_v10;
ALTER TABLE sessions RENAME TO sessions_v10;
ALTER TABLE refresh_tokens RENAME TO refresh_tokens_v10;
ALTER TABLE codes RENAME TO codes_v10;
ALTER TABLE totp RENAME TO totp_v10;
ALTER TABLE recovery_codes RENAME TO recovery_codes_v10;

CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     INTEGER NOT NULL REFERENCES tenants (no),
    email         TEXT,
    email_key     TEXT    NOT NULL,
    password_hash BLOB    NOT NULL,
    confirmed     INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    failed_checks INTEGER NOT NULL DEFAULT 0,
    failed_since  INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    tenant_id    BLOB    NOT NULL,
    user_id      BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    surface      TEXT    NOT NULL DEFAULT '',
    client_ip    TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

CREATE TABLE refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY,
    tenant_id  BLOB    NOT NULL,
    session_id BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0,
    next       TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

CREATE TABLE codes (
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    tenant_id  BLOB    NOT NULL,
    secret     TEXT    NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE totp (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  BLOB    NOT NULL,
    secret     TEXT    NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0,
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE recovery_codes (
    user_id BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT    NOT NULL,
    PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

INSERT INTO users SELECT u.id, t.no, u.email, u.email_key, usher_pack_hash(u.password_hash), u.confirmed, u.enabled,
    u.data, u.created_at, u.updated_at, u.failed_checks, u.failed_since
    FROM users_v10 u LEFT JOIN tenants t ON t.id = u.tenant_id ORDER BY u.id; -- a user without a tenant stops the upgrade
INSERT INTO sessions SELECT id, tenant_id, user_id, created_at, expires_at, last_used_at, surface, client_ip, user_agent
    FROM sessions_v10 ORDER BY id;
INSERT INTO refresh_tokens SELECT hash, tenant_id, session_id, user_id, created_at, expires_at, used_at, next
    FROM refresh_tokens_v10 ORDER BY hash;
INSERT INTO codes SELECT user_id, kind, tenant_id, secret, tries, created_at, expires_at FROM codes_v10 ORDER BY user_id, kind;
INSERT INTO totp SELECT user_id, tenant_id, secret, confirmed, last_step, created_at FROM totp_v10 ORDER BY user_id;
INSERT INTO recovery_codes SELECT user_id, hash FROM recovery_codes_v10 ORDER BY user_id, hash;

DROP TABLE refresh_tokens_v10;
DROP TABLE sessions_v10;
DROP TABLE codes_v10;
DROP TABLE totp_v10;
DROP TABLE recovery_codes_v10;
DROP TABLE users_v10;

CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, email_key);
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);
CREATE INDEX users_disabled ON users (tenant_id, created_at, id) WHERE NOT enabled;
CREATE INDEX users_failing ON users (tenant_id, created_at, id) WHERE failed_checks > 0;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md): restore a backup
-- taken before the upgrade to go back.
