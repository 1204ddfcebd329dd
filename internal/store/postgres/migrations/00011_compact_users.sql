-- +goose Up
-- SQLite's version 11 stores a user in fewer bytes: its tenant as a small
-- number and an argon2id hash as its parts. PostgreSQL keeps the tenant's
-- UUID (16 bytes, as SQLite's ID was) and the hash as text: the store's
-- SQL differs there only through its dialect. Nothing changes here; the
-- version keeps both engines at the same schema number.
SELECT 1;

-- +goose Down
SELECT 1;
