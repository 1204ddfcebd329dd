package sqlite

// The upgrades from the previous releases' schemas: version 2 (text IDs, an
// email on every row) to binary IDs (version 3), and version 3 to version 4
// (codes.purpose renamed codes.kind). A database written by those releases
// must open with everything in it readable and linked as before.

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// migrateTo brings the database to version v and no further.
func migrateTo(t *testing.T, db *sql.DB, v int64) {
	t.Helper()
	p, err := provider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), v); err != nil {
		t.Fatalf("migrate to %d: %v", v, err)
	}
}

// binaryID is an ID as version 3 and later store it: its 16 bytes.
func binaryID(t *testing.T, id string) []byte {
	t.Helper()
	b, ok := usher.ParseID(id)
	if !ok {
		t.Fatalf("not an ID: %q", id)
	}
	return b[:]
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

func TestUpgradeFromTextIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usher.db")
	w, r, err := open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	migrateTo(t, w, 2)

	now := time.UnixMilli(1_760_000_000_000).UTC()
	tenant := usher.NewID(now)
	mixed := usher.User{ID: usher.NewID(now), TenantID: tenant, Email: "Ann.Lee@Example.com", EmailKey: "ann.lee@example.com",
		Hash:      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		Confirmed: true, Enabled: true, Data: []byte(`{"plan":"pro"}`), CreatedAt: now, UpdatedAt: now.Add(time.Second),
		FailedChecks: 2, FailedSince: now.Add(2 * time.Second)}
	lower := usher.User{ID: usher.NewID(now.Add(time.Millisecond)), TenantID: tenant, Email: "bob@example.com",
		EmailKey: "bob@example.com", Hash: mixed.Hash, Enabled: true, Data: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
	session := usher.NewID(now)
	message := usher.NewID(now)
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO tenants (id, name, public_key, created_at) VALUES ($1, 'default', 'pk_test', $2)`,
			[]any{tenant, now.UnixMilli()}},
		{`INSERT INTO users VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			[]any{mixed.ID, tenant, mixed.Email, mixed.EmailKey, mixed.Hash, 1, 1, string(mixed.Data),
				now.UnixMilli(), mixed.UpdatedAt.UnixMilli(), 2, mixed.FailedSince.UnixMilli()}},
		{`INSERT INTO users VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			[]any{lower.ID, tenant, lower.Email, lower.EmailKey, lower.Hash, 0, 1, "{}", now.UnixMilli(), now.UnixMilli(), 0, 0}},
		{`INSERT INTO sessions VALUES ($1, $2, $3, $4, $5)`,
			[]any{session, tenant, mixed.ID, now.UnixMilli(), now.Add(time.Hour).UnixMilli()}},
		{`INSERT INTO codes VALUES ($1, 'reset', $2, 'sha', 1, $3, $4)`,
			[]any{mixed.ID, tenant, now.UnixMilli(), now.Add(time.Hour).UnixMilli()}},
		{`INSERT INTO outbox (id, tenant_id, kind, recipient, params, status, next_attempt_at, created_at)
			VALUES ($1, $2, 'password_reset', $3, 'sealed', 'pending', $4, $4)`,
			[]any{message, tenant, mixed.Email, now.UnixMilli()}},
	} {
		if _, err := w.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}

	// Version 3 (binary IDs) still names a code's kind its purpose: a code
	// written then must come out of the rename to kind (version 4) intact.
	migrateTo(t, w, 3)
	verify := usher.UserCode{UserID: lower.ID, TenantID: tenant, Kind: usher.VerifyCode, Secret: "sealed:v3", Tries: 2,
		CreatedAt: now.Add(3 * time.Millisecond), ExpiresAt: now.Add(24 * time.Hour)}
	if _, err := w.ExecContext(ctx, `INSERT INTO codes (user_id, purpose, tenant_id, secret, tries, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, binaryID(t, verify.UserID), string(verify.Kind), binaryID(t, tenant),
		verify.Secret, verify.Tries, verify.CreatedAt.UnixMilli(), verify.ExpiresAt.UnixMilli()); err != nil {
		t.Fatalf("inserting a code under version 3: %v", err)
	}
	w.Close()
	r.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open after the upgrade: %v", err)
	}
	defer s.Close()

	for _, want := range []usher.User{mixed, lower} {
		got, err := s.UserByID(ctx, tenant, want.ID)
		if err != nil {
			t.Fatalf("UserByID(%s): %v", want.Email, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("user %s after the upgrade (-want +got):\n%s", want.Email, diff)
		}
		if got, err := s.UserByEmail(ctx, tenant, want.EmailKey); err != nil || got.ID != want.ID {
			t.Errorf("UserByEmail(%s) = %s, %v; want %s", want.EmailKey, got.ID, err, want.ID)
		}
	}
	var stored sql.NullString
	if err := s.DB().QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`, s.IDArg(lower.ID)).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored.Valid {
		t.Errorf("email of %s stored as %q; want NULL (the same as its key)", lower.Email, stored.String)
	}
	if tn, err := s.TenantByKey(ctx, "pk_test"); err != nil || tn.ID != tenant {
		t.Errorf("TenantByKey = %+v, %v; want tenant %s", tn, err, tenant)
	}
	if u, _, err := s.SessionUser(ctx, tenant, session, mixed.ID, now); err != nil || u.ID != mixed.ID {
		t.Errorf("SessionUser = %s, %v; want %s", u.ID, err, mixed.ID)
	}
	reset := usher.UserCode{UserID: mixed.ID, TenantID: tenant, Kind: usher.ResetCode, Secret: "sha", Tries: 1,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	for _, want := range []usher.UserCode{reset, verify} {
		got, err := readCode(ctx, s, want.UserID, want.Kind)
		if err != nil {
			t.Errorf("Code(%s, %s) after the upgrade: %v", want.UserID, want.Kind, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s code after the upgrade (-want +got):\n%s", want.Kind, diff)
		}
	}
	var cols []string
	rows, err := s.DB().QueryContext(ctx, `SELECT name FROM pragma_table_info('codes') WHERE pk > 0 ORDER BY pk`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"user_id", "kind"}, cols); diff != "" {
		t.Errorf("primary key of codes after the upgrade (-want +got):\n%s", diff)
	}
	// The renamed column takes writes: a second code of the kind replaces it.
	next := verify
	next.Secret, next.Tries = "sealed:v4", 0
	if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.PutCode(tctx, next) }); err != nil {
		t.Fatalf("PutCode after the upgrade: %v", err)
	}
	if got, err := readCode(ctx, s, next.UserID, next.Kind); err != nil || got.Secret != next.Secret {
		t.Errorf("Code after PutCode = %+v, %v; want secret %q", got, err, next.Secret)
	}
	msgs, err := s.Claim(ctx, now, time.Minute, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != message || msgs[0].TenantID != tenant {
		t.Errorf("Claim = %+v, %v; want message %s", msgs, err, message)
	}

	// The foreign keys survived the rebuild: deleting the user takes its
	// session and code with it, and a user needs an existing tenant.
	if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, tenant, mixed.ID) }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, table := range []string{"sessions", "codes"} {
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, s.IDArg(mixed.ID)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s rows of the deleted user: %d; want 0", table, n)
		}
	}
	orphan := lower
	orphan.ID, orphan.TenantID, orphan.EmailKey = usher.NewID(now), usher.NewID(now), "orphan@example.com"
	if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.CreateUser(tctx, &orphan) }); err == nil {
		t.Errorf("CreateUser in a tenant that does not exist succeeded; want a foreign key failure")
	}
	var leftovers int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v2'`).Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("%d tables or indexes of version 2 left behind", leftovers)
	}
}
