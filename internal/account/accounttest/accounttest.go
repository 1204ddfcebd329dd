// Package accounttest builds a real account.Service for the tests of the
// use cases and of the surfaces that call them: a SQLite file in a
// temporary directory, cheap password hashing, a fixed data key, signing
// keys, and a clock that moves only when the test says so; on request, a
// store whose reads of users fail (Faults) and a hashing pool the test can
// fill (Pool).
package accounttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/store/postgres"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/store/sqlite"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// CheapHash makes hashing fast enough for many rounds under -race;
// production always runs password.Default.
var CheapHash = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Start is the time every Env's clock starts at.
var Start = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// Clock is an injected clock: it moves only when a test says so.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is a Service on a real store, with what tests need to look behind it.
type Env struct {
	Service *account.Service
	Store   *store.Store
	Box     *token.Box
	Keys    *token.Keyring
	Clock   *Clock
	Tenant  usher.Tenant // the default tenant
}

// New returns an Env with the test rules: passwords of 8 to 128 code
// points, lockout after 3 failures in 15 minutes, reset codes for 30
// minutes / 5 tries / 5 an hour, verification tokens for 24 hours, sessions
// for an hour. Each option may change the config before the Service is
// built. The store closes when the test ends.
func New(t testing.TB, opts ...func(*account.Config)) *Env {
	t.Helper()
	ctx := context.Background()
	clock := &Clock{now: Start}
	st, err := openStore(t)
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	box, err := token.NewBox(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatalf("NewBox: %v", err)
	}
	ring := token.NewKeyring(st, box, time.Hour)
	if err := ring.Ensure(ctx, clock.Now()); err != nil {
		t.Fatalf("Keyring.Ensure: %v", err)
	}
	cfg := account.Config{
		Store:      st,
		Hasher:     password.NewHasher(CheapHash, password.NewPool(2, 64, 10*time.Second)),
		Policy:     password.Policy{Min: 8, Max: 128},
		Lockout:    account.Lockout{Max: 3, Window: 15 * time.Minute},
		Tokens:     token.NewTokens(ring, "https://issuer.test", 100, clock.Now),
		Box:        box,
		SessionTTL: time.Hour,
		Reset:      account.Reset{TTL: 30 * time.Minute, MaxTries: 5, PerHour: 5},
		Verify:     account.Verify{TTL: 24 * time.Hour},
		Now:        clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &Env{Service: account.New(cfg), Store: st, Box: box, Keys: ring, Clock: clock}
	if e.Tenant, err = e.Service.DefaultTenant(ctx); err != nil {
		t.Fatalf("DefaultTenant: %v", err)
	}
	return e
}

// openStore opens a new SQLite file, or, with USHER_TEST_ENGINE=postgres, a
// schema of its own on the PostgreSQL server of USHER_TEST_POSTGRES (see
// pgtest.ReusableDSN; the package's TestMain calls pgtest.Main): the use
// cases and surfaces run on both engines.
func openStore(t testing.TB) (*store.Store, error) {
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		return postgres.Open(context.Background(), pgtest.ReusableDSN(t), postgres.Options{Timeout: 10 * time.Second})
	}
	path := filepath.Join(t.TempDir(), "usher.db")
	MigratedSQLite(t, path)
	return sqlite.Open(context.Background(), path, sqlite.Options{})
}

// migrated is a SQLite database at the latest schema and nothing else,
// made once per test binary.
var migrated struct {
	once sync.Once
	file []byte
	err  error
}

// MigratedSQLite writes at path a new SQLite database already at the latest
// schema: a copy of one migrated once by this test binary. A copy costs a
// millisecond where migrating costs 40 ms, and 0.7 s under the race
// detector, which instruments every line of the SQLite engine; sqlite.Open
// on the copy finds nothing to migrate. The tests of the migrations
// themselves start from empty files instead.
func MigratedSQLite(t testing.TB, path string) {
	t.Helper()
	migrated.once.Do(func() { migrated.file, migrated.err = migrate() })
	if migrated.err != nil {
		t.Fatalf("migrating the template database: %v", migrated.err)
	}
	if err := os.WriteFile(path, migrated.file, 0o600); err != nil {
		t.Fatalf("copying the template database: %v", err)
	}
}

// migrate returns the bytes of a newly migrated database file. Closing the
// store checkpoints the write-ahead log into the file and removes the log,
// so the file alone holds the schema (it fails otherwise).
func migrate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "usher-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "usher.db")
	if _, err := sqlite.Migrate(context.Background(), path, sqlite.Options{}); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the write-ahead log outlived the close (%v)", err)
	}
	return os.ReadFile(path)
}

// Mail is one message the use cases queued, opened.
type Mail struct {
	Kind   string
	To     string
	Params usher.MailParams
}

// Mail returns the messages queued since the last call, oldest first, and
// marks them sent (so a later call, even after the clock moved past their
// lease, does not return them again).
func (e *Env) Mail(t testing.TB) []Mail {
	t.Helper()
	ctx := context.Background()
	var out []Mail
	for {
		msgs, err := e.Store.Claim(ctx, e.Clock.Now(), time.Minute, 100)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		for _, m := range msgs {
			p, err := m.OpenParams(e.Box)
			if err != nil {
				t.Fatalf("opening message %s: %v", m.ID, err)
			}
			if err := e.Store.MarkSent(ctx, e.Clock.Now(), m.ID); err != nil {
				t.Fatalf("MarkSent: %v", err)
			}
			out = append(out, Mail{Kind: m.Kind, To: m.To, Params: p})
		}
		if len(msgs) < 100 {
			return out
		}
	}
}

// CheckedMail is Mail, and fails the test, without stopping it, for each
// message whose params lack what its template needs: the recipient's
// address, a verification or email-change message's token, a reset
// message's code.
func (e *Env) CheckedMail(t testing.TB) []Mail {
	t.Helper()
	ms := e.Mail(t)
	for _, m := range ms {
		p := m.Params
		// The report names what is missing, never a code or token.
		needsToken := m.Kind == usher.MailVerify || m.Kind == usher.MailEmailChange
		if p.Email != m.To || needsToken && p.Token == "" || m.Kind == usher.MailReset && p.Code == "" {
			t.Errorf("%s message to %s: params lack what the template needs (email %q, token set %t, code set %t)",
				m.Kind, m.To, p.Email, p.Token != "", p.Code != "")
		}
	}
	return ms
}

// Envelope is what a test usually compares of a Mail: its kind and
// recipient.
type Envelope struct{ Kind, To string }

// Envelopes returns the envelope of each of ms, in order.
func Envelopes(ms []Mail) []Envelope {
	var out []Envelope
	for _, m := range ms {
		out = append(out, Envelope{Kind: m.Kind, To: m.To})
	}
	return out
}

// Params returns the params of each of ms, in order.
func Params(ms []Mail) []usher.MailParams {
	var out []usher.MailParams
	for _, m := range ms {
		out = append(out, m.Params)
	}
	return out
}
