package postgres

// The upgrade from the previous release's schema (version 3, where a code's
// kind is named its purpose) to version 4 (codes.kind): codes written by
// that release must read back whole, and the renamed column must take the
// store's writes.

import (
	"context"
	"database/sql"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// migrateTo brings the database to version v and no further.
func migrateTo(ctx context.Context, t *testing.T, db *sql.DB, v int64) {
	t.Helper()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, v); err != nil {
		t.Fatalf("migrate to %d: %v", v, err)
	}
}

// readCode reads a code with Tx.Code, in a transaction of its own.
func readCode(ctx context.Context, s *store.Store, userID string, kind usher.CodeKind) (usher.UserCode, error) {
	var c usher.UserCode
	err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error {
		var err error
		c, err = tx.Code(tctx, userID, kind)
		return err
	})
	return c, err
}

func TestUpgradeCodePurposeToKind(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := open(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrateTo(ctx, t, db, 3)

	now := time.UnixMilli(1_760_000_000_000).UTC()
	tenant, user := usher.NewID(now), usher.NewID(now)
	codes := []usher.UserCode{
		{UserID: user, TenantID: tenant, Kind: usher.ResetCode, Secret: "sha256:v3", Tries: 1,
			CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)},
		{UserID: user, TenantID: tenant, Kind: usher.VerifyCode, Secret: "sealed:v3", Tries: 2,
			CreatedAt: now.Add(time.Millisecond), ExpiresAt: now.Add(24 * time.Hour)},
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO tenants (id, name, public_key, created_at) VALUES ($1, 'default', 'pk_test', $2)`,
			[]any{tenant, now.UnixMilli()}},
		{`INSERT INTO users (id, tenant_id, email, email_key, password_hash, confirmed, enabled, data, created_at, updated_at)
			VALUES ($1, $2, NULL, 'ann@example.com', 'hash', true, true, '{}', $3, $3)`,
			[]any{user, tenant, now.UnixMilli()}},
	} {
		if _, err := db.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	for _, c := range codes {
		if _, err := db.ExecContext(ctx, `INSERT INTO codes (user_id, purpose, tenant_id, secret, tries, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.UserID, string(c.Kind), c.TenantID, c.Secret, c.Tries,
			c.CreatedAt.UnixMilli(), c.ExpiresAt.UnixMilli()); err != nil {
			t.Fatalf("inserting a %s code under version 3: %v", c.Kind, err)
		}
	}
	db.Close()

	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open after the upgrade: %v", err)
	}
	defer s.Close()

	for _, want := range codes {
		got, err := readCode(ctx, s, want.UserID, want.Kind)
		if err != nil {
			t.Errorf("Code(%s) after the upgrade: %v", want.Kind, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s code after the upgrade (-want +got):\n%s", want.Kind, diff)
		}
	}

	var key string
	if err := s.DB().QueryRowContext(ctx, `SELECT string_agg(a.attname, ',' ORDER BY k.ord)
		FROM pg_index x
		CROSS JOIN unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
		WHERE x.indrelid = 'codes'::regclass AND x.indisprimary`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if key != "user_id,kind" {
		t.Errorf("primary key of codes after the upgrade: (%s), want (user_id,kind)", key)
	}

	// The renamed column takes the store's writes.
	next := codes[1]
	next.Secret, next.Tries = "sealed:v4", 0
	err = s.Update(ctx, func(tctx context.Context, tx account.Tx) error {
		if err := tx.PutCode(tctx, next); err != nil {
			return err
		}
		return tx.SetCodeTries(tctx, user, usher.ResetCode, 4)
	})
	if err != nil {
		t.Fatalf("PutCode and SetCodeTries after the upgrade: %v", err)
	}
	reset := codes[0]
	reset.Tries = 4
	for _, want := range []usher.UserCode{reset, next} {
		if got, err := readCode(ctx, s, want.UserID, want.Kind); err != nil || cmp.Diff(want, got) != "" {
			t.Errorf("Code(%s) after writes = %+v, %v; want %+v", want.Kind, got, err, want)
		}
	}

	applied, err := Migrate(ctx, dsn, Options{})
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate after Open = %v, %v; want nothing left to apply", applied, err)
	}
}

// A schema a newer release wrote is refused, not read wrongly.
func TestRefusesANewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := Migrate(ctx, dsn, Options{}); err != nil {
		t.Fatal(err)
	}
	db, err := open(dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)`); err != nil {
		t.Fatal(err)
	}
	_, err = Migrate(ctx, dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema is version 9999, newer than") {
		t.Fatalf("Migrate on a newer schema: %v; want it refused", err)
	}
}
