-- +goose Up
-- PostgreSQL already stores IDs as UUID (16 bytes); what this version
-- shares with SQLite's is users.email: NULL when the address is its own
-- key. Existing rows keep their email (rewriting every row to save the
-- duplicate is not worth the table lock).
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
