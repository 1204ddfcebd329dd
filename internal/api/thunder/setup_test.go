package thunder_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// start is the injected clock's time.
var start = accounttest.Start

// faultyStore answers every read of a user by email as an unreachable
// database does while down is set, and with an unexpected error while
// broken is.
type faultyStore struct {
	account.Store
	down, broken atomic.Bool
}

func (s *faultyStore) UserByEmail(ctx context.Context, tenantID, key string) (usher.User, error) {
	switch {
	case s.down.Load():
		return usher.User{}, usher.Wrap(usher.Unavailable, "The database is unavailable; try again shortly.", errors.New("dial tcp: connection refused"))
	case s.broken.Load():
		return usher.User{}, errors.New("sqlite: disk I/O error at /var/lib/usher")
	}
	return s.Store.UserByEmail(ctx, tenantID, key)
}

// env is the Thunder surface over a real Service on a real SQLite file.
type env struct {
	*accounttest.Env
	faults *faultyStore
	pool   *password.Pool
	h      http.Handler
	// vars replace their names in a scenario's path, headers, body and
	// wanted answer; setup functions add to them.
	vars map[string]string
	sent []usher.MailParams // the params of the emails the request queued
}

// newEnv builds the surface with the application app:s3cret, the
// header check on, any properties allowed, and what cfg changes. A busy
// env's hashing pool has one slot and no queue.
func newEnv(t *testing.T, cfg func(*thunder.Config), busy bool) *env {
	t.Helper()
	e := &env{pool: password.NewPool(2, 64, 10*time.Second), vars: map[string]string{}}
	if busy {
		e.pool = password.NewPool(1, 0, 10*time.Second)
	}
	e.Env = accounttest.New(t, func(c *account.Config) {
		c.Lockout.Max = 10
		c.Hasher = password.NewHasher(accounttest.CheapHash, e.pool)
		e.faults = &faultyStore{Store: c.Store}
		c.Store = e.faults
	})
	c := thunder.Config{
		Apps:        []thunder.App{{Name: "app", Secret: "s3cret"}},
		HeaderCheck: true,
		Properties:  thunder.Properties{AllowSubset: true, AllowSuperset: true},
	}
	if cfg != nil {
		cfg(&c)
	}
	var err error
	e.h, err = thunder.New(e.Service, e.Tenant.ID, c).Surface().Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatalf("building the surface: %v", err)
	}
	return e
}

// holdPool takes the hashing pool's one slot until the test ends, so the
// next hash is refused at once.
func (e *env) holdPool(t *testing.T) {
	t.Helper()
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- e.pool.Do(context.Background(), func() {
			close(held)
			<-release
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("holding the hashing pool: %v", err)
	}
	t.Cleanup(func() {
		close(release)
		<-done
	})
}

// mail is one queued email: its kind and recipient.
type mail struct{ Kind, To string }

// drain returns the emails queued since the last call, and keeps their
// params in e.sent.
func (e *env) drain(t *testing.T) []mail {
	t.Helper()
	var out []mail
	e.sent = nil
	for _, m := range e.Mail(t) {
		if m.Params.Email != m.To || m.Kind == usher.MailVerify && m.Params.Token == "" {
			t.Errorf("%s message to %s: params %+v lack what the template needs", m.Kind, m.To, m.Params)
		}
		out = append(out, mail{Kind: m.Kind, To: m.To})
		e.sent = append(e.sent, m.Params)
	}
	return out
}

// scenario is one request to a fresh surface and the answer it must get.
type scenario struct {
	name   string
	cfg    func(*thunder.Config)      // changes the surface's configuration
	setup  func(t *testing.T, e *env) // optional: make users, set vars
	busy   bool                       // the hashing pool is full
	down   bool                       // the database is unreachable
	broken bool                       // the database fails unexpectedly
	method string
	path   string
	header map[string]string
	body   string

	status     int
	wantHeader map[string]string // headers the answer must carry, exact values
	// wantText is the exact text of a plain-text answer (an error).
	wantText string
	// wantJSON is a JSON answer, compared as JSON once the answer's
	// password hash is written "<hash>" and a verification token "<token>".
	wantJSON string
	wantMail []mail // every email queued by the request
	after    func(t *testing.T, e *env, rec *httptest.ResponseRecorder)
}

func run(t *testing.T, tests []scenario) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.cfg, tc.busy)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			e.drain(t) // what setup queued is not the request's
			if tc.busy {
				e.holdPool(t)
			}
			e.faults.down.Store(tc.down)
			e.faults.broken.Store(tc.broken)
			rec := e.do(t, tc.method, tc.path, tc.header, tc.body)
			e.faults.down.Store(false)
			e.faults.broken.Store(false)
			expand := e.expander()

			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			for k, v := range tc.wantHeader {
				if got, want := rec.Header().Get(k), expand(v); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			switch {
			case tc.wantText != "":
				if got, want := rec.Body.String(), expand(tc.wantText); got != want {
					t.Errorf("body: got %q, want %q", got, want)
				}
				if got, want := rec.Header().Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
					t.Errorf("Content-Type: got %q, want %q", got, want)
				}
			case tc.wantJSON != "":
				if diff := cmp.Diff(decode(t, expand(tc.wantJSON)), userView(decode(t, rec.Body.String()))); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
					t.Errorf("Content-Type: got %q, want %q", got, want)
				}
			}
			if diff := cmp.Diff(tc.wantMail, e.drain(t), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("emails (-want +got):\n%s", diff)
			}
			if tc.after != nil {
				tc.after(t, e, rec)
			}
		})
	}
}

func (e *env) expander() func(string) string {
	var pairs []string
	for k, v := range e.vars {
		pairs = append(pairs, k, v)
	}
	return strings.NewReplacer(pairs...).Replace
}

// do sends one request, with vars expanded.
func (e *env) do(t *testing.T, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	expand := e.expander()
	req := httptest.NewRequestWithContext(t.Context(), method, expand(path), strings.NewReader(expand(body)))
	for k, v := range header {
		req.Header.Set(k, expand(v))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// decode parses JSON, keeping numbers exact.
func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%q is not JSON: %v", s, err)
	}
	return v
}

// userView writes a Thunder user's argon2id hash "<hash>" and its
// verification token, when it has one, "<token>".
func userView(v any) any {
	u, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if pw, ok := u["password"].(string); ok && strings.HasPrefix(pw, "$argon2id$") {
		u["password"] = "<hash>"
	}
	if em, ok := u["email"].(map[string]any); ok {
		if tok, ok := em["verificationToken"].(string); ok && tok != "" {
			em["verificationToken"] = "<token>"
		}
	}
	return u
}
