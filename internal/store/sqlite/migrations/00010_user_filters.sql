-- +goose Up
-- The console's and the backend's rare filters: disabled users and users
-- with failed sign-ins are few, so listing them reads these small indexes
-- (in creation order, as every listing) instead of walking every user.
-- A user appears in them only while disabled or while failures are counted.
CREATE INDEX users_disabled ON users (tenant_id, created_at, id) WHERE NOT enabled;
CREATE INDEX users_failing ON users (tenant_id, created_at, id) WHERE failed_checks > 0;

-- +goose Down
DROP INDEX users_failing;
DROP INDEX users_disabled;
