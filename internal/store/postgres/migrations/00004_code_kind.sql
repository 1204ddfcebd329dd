-- +goose Up
-- A code's kind (reset, verify) was named its purpose: one name for it
-- everywhere, in the code and in the schema.
ALTER TABLE codes RENAME COLUMN purpose TO kind;

-- +goose Down
-- Forward-only, like every schema change (DESIGN.md).
