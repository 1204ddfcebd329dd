package sqlite

// The upgrades from the previous releases' schemas: version 2 (text IDs, an
// email on every row) to binary IDs (version 3), version 3 to version 4
// (codes.purpose renamed codes.kind), and version 10 to version 11 (a
// user's tenant as its number, the hash as bytes). A database written by
// those releases must open with everything in it readable and linked as
// before.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
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

// openAt opens a new database file brought to version v and no further.
func openAt(t *testing.T, v int64) (path string, w, r *sql.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "usher.db")
	w, r, err := open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	migrateTo(t, w, v)
	return path, w, r
}

// reopen closes the raw pools and opens the database as Usher does,
// which upgrades it to the latest version.
func reopen(ctx context.Context, t *testing.T, path string, w, r *sql.DB) *store.Store {
	t.Helper()
	w.Close()
	r.Close()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open after the upgrade: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
	path, w, r := openAt(t, 2)

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
	s := reopen(ctx, t, path, w, r)

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

// Version 11 rebuilds users (the tenant as its number, the hash as bytes)
// and the tables that point at them. Everything written under version 10
// reads back the same, the links still cascade, and what is written after
// takes the compact forms.
func TestUpgradeToCompactUsers(t *testing.T) {
	ctx := context.Background()
	path, w, r := openAt(t, 10)

	now := time.UnixMilli(1_760_000_000_000).UTC()
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	red, blue := usher.NewID(now), usher.NewID(now.Add(time.Millisecond))
	var users []usher.User
	for i, tenant := range []string{red, blue, blue} {
		users = append(users, usher.User{ID: usher.NewID(now.Add(time.Duration(i) * time.Millisecond)), TenantID: tenant,
			Email: "Ann@Example.com", EmailKey: fmt.Sprintf("ann%d@example.com", i), Hash: hash, Confirmed: true, Enabled: true,
			Data: []byte(`{"n":1}`), CreatedAt: now, UpdatedAt: now, FailedChecks: i, FailedSince: now.Add(time.Duration(i) * time.Second)})
	}
	users[2].Hash = "$2a$10$abcdefghijklmnopqrstuuMDKn0WyCpyI8bpm8FKoT2b1mEiIs6UW" // imported, kept as written
	ann := users[1]
	session, token := usher.NewID(now), "refresh-hash"
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := w.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i, id := range []string{red, blue} {
		exec(`INSERT INTO tenants (id, name, public_key, created_at) VALUES ($1, $2, $3, $4)`,
			binaryID(t, id), fmt.Sprintf("t%d", i), fmt.Sprintf("pk_%d", i), now.UnixMilli())
	}
	for _, u := range users {
		exec(`INSERT INTO users VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $7, $7, $8, $9)`, binaryID(t, u.ID), binaryID(t, u.TenantID),
			u.Email, u.EmailKey, u.Hash, string(u.Data), now.UnixMilli(), u.FailedChecks, u.FailedSince.UnixMilli())
	}
	exec(`INSERT INTO sessions (id, tenant_id, user_id, created_at, expires_at, surface) VALUES ($1, $2, $3, $4, $5, 'public')`,
		binaryID(t, session), binaryID(t, blue), binaryID(t, ann.ID), now.UnixMilli(), now.Add(time.Hour).UnixMilli())
	exec(`INSERT INTO refresh_tokens (hash, tenant_id, session_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		token, binaryID(t, blue), binaryID(t, session), binaryID(t, ann.ID), now.UnixMilli(), now.Add(time.Hour).UnixMilli())
	exec(`INSERT INTO codes VALUES ($1, 'reset', $2, 'sealed', 0, $3, $4)`,
		binaryID(t, ann.ID), binaryID(t, blue), now.UnixMilli(), now.Add(time.Hour).UnixMilli())
	exec(`INSERT INTO totp (user_id, tenant_id, secret, created_at) VALUES ($1, $2, 'sealed', $3)`,
		binaryID(t, ann.ID), binaryID(t, blue), now.UnixMilli())
	exec(`INSERT INTO recovery_codes VALUES ($1, 'code-hash')`, binaryID(t, ann.ID))
	s := reopen(ctx, t, path, w, r)
	db := s.DB()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	for _, want := range users {
		got, err := s.UserByID(ctx, want.TenantID, want.ID)
		if err != nil {
			t.Fatalf("UserByID(%s): %v", want.EmailKey, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("user %s after the upgrade (-want +got):\n%s", want.EmailKey, diff)
		}
		if _, err := s.UserByID(ctx, map[string]string{red: blue, blue: red}[want.TenantID], want.ID); err == nil {
			t.Errorf("user %s found in the other tenant", want.EmailKey)
		}
	}
	// The argon2id hashes were packed by the upgrade; the imported bcrypt
	// one is still its text.
	for _, u := range users {
		n := count(`SELECT length(password_hash) FROM users WHERE id = $1`, s.IDArg(u.ID))
		if packed := n < len(u.Hash); packed != strings.HasPrefix(u.Hash, "$argon2id$") {
			t.Errorf("the hash of %s takes %d bytes after the upgrade, its text %d", u.EmailKey, n, len(u.Hash))
		}
	}
	if n := count(`SELECT count(*) FROM tenants WHERE no IS NULL`); n != 0 {
		t.Errorf("%d tenants without a number", n)
	}
	if u, _, err := s.SessionUser(ctx, blue, session, ann.ID, now); err != nil || u.TenantID != blue || u.Hash != hash {
		t.Errorf("SessionUser = %+v, %v; want %s of tenant %s", u, err, ann.ID, blue)
	}
	if n := count(`SELECT count(*) FROM pragma_foreign_key_check`); n != 0 {
		t.Errorf("%d rows break a foreign key after the upgrade", n)
	}
	if n := count(`SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v10'`); n != 0 {
		t.Errorf("%d tables or indexes of version 10 left behind", n)
	}

	// A new tenant takes the next number, and its users the compact hash.
	green := usher.Tenant{ID: usher.NewID(now), Name: "green", PublicKey: "pk_green", CreatedAt: now}
	fresh := users[0]
	fresh.ID, fresh.TenantID, fresh.EmailKey, fresh.Email = usher.NewID(now.Add(time.Second)), green.ID, "new@example.com", "new@example.com"
	err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error {
		if err := tx.CreateTenant(tctx, green); err != nil {
			return err
		}
		return tx.CreateUser(tctx, &fresh)
	})
	if err != nil {
		t.Fatalf("a tenant and its user after the upgrade: %v", err)
	}
	if got, err := s.UserByEmail(ctx, green.ID, fresh.EmailKey); err != nil || got.TenantID != green.ID || got.Hash != hash {
		t.Errorf("UserByEmail in the new tenant = %+v, %v", got, err)
	}
	if n := count(`SELECT no FROM tenants WHERE id = $1`, s.IDArg(green.ID)); n != 3 {
		t.Errorf("the new tenant's number is %d; want 3", n)
	}
	if n := count(`SELECT length(password_hash) FROM users WHERE id = $1`, s.IDArg(fresh.ID)); n >= len(hash) {
		t.Errorf("a new argon2id hash takes %d bytes; want fewer than its text's %d", n, len(hash))
	}

	// The links cascade as before: deleting Ann takes her session, its
	// refresh token, her code, her second factor and its recovery codes.
	if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, blue, ann.ID) }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, table := range []string{"sessions", "refresh_tokens", "codes", "totp", "recovery_codes"} {
		if n := count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("%d %s rows left after their user was deleted", n, table)
		}
	}
	if n := count(`SELECT count(*) FROM users`); n != len(users) {
		t.Errorf("%d users after one of %d was deleted and one created; want %d", n, len(users), len(users))
	}
}

// A schema a newer release wrote is refused, not read wrongly (a release
// from before version 11 found no user in a version 11 database).
func TestRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usher.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(ctx, path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open on a newer schema succeeded; want it refused")
	}
	if !strings.Contains(err.Error(), "schema is version 9999, newer than") {
		t.Errorf("Open on a newer schema: %v", err)
	}
}

// A deleted tenant's number is not given again: a user a delete made
// outside Usher left behind (foreign keys off in the sqlite3 shell) must
// not join the next tenant.
func TestTenantNumbersAreNotReused(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "usher.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.UnixMilli(1_760_000_000_000).UTC()
	number := func(id string) int {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT no FROM tenants WHERE id = $1`, s.IDArg(id)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	create := func(name string) string {
		t.Helper()
		x := usher.Tenant{ID: usher.NewID(now), Name: name, PublicKey: "pk_" + name, CreatedAt: now}
		if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.CreateTenant(tctx, x) }); err != nil {
			t.Fatal(err)
		}
		return x.ID
	}
	last := create("last")
	n := number(last)
	if err := s.Update(ctx, func(tctx context.Context, tx account.Tx) error { return tx.DeleteTenant(tctx, last) }); err != nil {
		t.Fatal(err)
	}
	if got := number(create("next")); got != n+1 {
		t.Errorf("the tenant after the deleted number %d got %d; want %d", n, got, n+1)
	}
}
