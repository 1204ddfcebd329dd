package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/store/storetest"
	"github.com/usherhq/usher/internal/usher"
)

var _ account.Store = (*store.Store)(nil)

// open opens a store on a new database file in a temporary directory and
// closes it when the test ends.
func open(t *testing.T, path string, opts sqlite.Options) *store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// migrated returns the path of a new database file at the latest schema
// (a copy: the migrations have their own tests below and in upgrade_test.go).
func migrated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usher.db")
	accounttest.MigratedSQLite(t, path)
	return path
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.Store {
		return open(t, migrated(t), sqlite.Options{Timeout: 10 * time.Second})
	})
}

func TestContractSynchronousNormal(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.Store {
		return open(t, migrated(t), sqlite.Options{Synchronous: "NORMAL", Readers: 1})
	})
}

// pragma reads one pragma through the writer pool (a single connection, so
// the value is the writer's).
func pragma(t *testing.T, s *store.Store, name string) string {
	t.Helper()
	var v string
	if err := s.DB().QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	tests := []struct {
		name            string
		synchronous     string
		wantSynchronous string
	}{
		{"Default", "", "2"},
		{"Full", "FULL", "2"},
		{"Normal", "NORMAL", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, filepath.Join(t.TempDir(), "usher.db"), sqlite.Options{Synchronous: tt.synchronous})
			want := map[string]string{
				"journal_mode": "wal",
				"synchronous":  tt.wantSynchronous,
				"foreign_keys": "1",
				"busy_timeout": "5000",
				"query_only":   "0",
			}
			for name, w := range want {
				if got := pragma(t, s, name); got != w {
					t.Errorf("PRAGMA %s: got %s, want %s", name, got, w)
				}
			}
			if got, want := s.DB().Stats().MaxOpenConnections, 1; got != want {
				t.Errorf("writer pool: got %d connections at most, want %d", got, want)
			}
		})
	}
}

// TestForeignKeysEnforced shows foreign_keys is in effect for writes: a user
// of a tenant that does not exist is refused.
func TestForeignKeysEnforced(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "usher.db"), sqlite.Options{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := usher.User{
		ID: usher.NewID(now), TenantID: usher.NewID(now), Email: "a@example.com", EmailKey: "a@example.com",
		Hash: "x", Enabled: true, Data: []byte("{}"), CreatedAt: now, UpdatedAt: now,
	}
	err := s.Update(context.Background(), func(tctx context.Context, tx account.Tx) error { return tx.CreateUser(tctx, &u) })
	if err == nil {
		t.Fatal("CreateUser in a missing tenant: got nil error, want a foreign key violation")
	}
	if code := usher.ErrorCode(err); code != usher.NotFound || usher.ErrorMessage(err) != "Tenant not found." {
		t.Errorf("CreateUser in a missing tenant: got %v, want the tenant not found", err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usher.db")

	applied, err := sqlite.Migrate(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Migrate on a fresh file: %v", err)
	}
	if len(applied) == 0 {
		t.Fatal("Migrate on a fresh file: applied nothing, want versions 1..n")
	}
	for i, v := range applied {
		if want := int64(i + 1); v != want {
			t.Fatalf("Migrate on a fresh file: applied %v, want consecutive versions from 1", applied)
		}
	}

	applied, err = sqlite.Migrate(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Migrate a second time: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("Migrate a second time: applied %v, want nothing", applied)
	}

	// Open runs the migrations too, and finds nothing to do.
	s := open(t, path, sqlite.Options{})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after Migrate: %v", err)
	}
	var users int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&users); err != nil {
		t.Fatalf("users table after Migrate: %v", err)
	}
}

func TestInvalidSynchronous(t *testing.T) {
	for _, sync := range []string{"OFF", "EXTRA", "full", "bogus", "FULL)&_pragma=foreign_keys(0"} {
		t.Run(sync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usher.db")
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{Synchronous: sync})
			if err == nil {
				s.Close()
				t.Fatalf("Open with synchronous %q: got nil error, want one", sync)
			}
			if _, err := sqlite.Migrate(context.Background(), path, sqlite.Options{Synchronous: sync}); err == nil {
				t.Errorf("Migrate with synchronous %q: got nil error, want one", sync)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("database file after a refused open: got stat error %v, want none created", err)
			}
		})
	}
}

// TestPathWithSpecialCharacters opens a database whose path holds characters
// that mean something in a URI (the DSN is a file: URI).
func TestPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%20chars&x=1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "usher.db")
	s := open(t, path, sqlite.Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file at %q: %v", path, err)
	}
}
