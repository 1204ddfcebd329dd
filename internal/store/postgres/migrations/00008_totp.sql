-- +goose Up
-- TOTP two-factor sign-in: one secret per user (sealed with the data key),
-- confirmed once its first code was right; last_step is the time step of
-- the last code accepted (a code is good once). Recovery codes are stored
-- as SHA-256 hashes, single use.
CREATE TABLE totp (
    user_id    UUID    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  UUID    NOT NULL,
    secret     TEXT    NOT NULL,
    confirmed  BIGINT  NOT NULL DEFAULT 0,
    last_step  BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL
);
CREATE TABLE recovery_codes (
    user_id UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT    NOT NULL,
    PRIMARY KEY (user_id, hash)
);

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
