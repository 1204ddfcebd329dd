package thunder_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/usher"
)

// start is the injected clock's time.
var start = accounttest.Start

// env is the Thunder surface over a real Service on a real SQLite file.
type env struct {
	*accounttest.Env
	faults accounttest.Faults
	pool   *accounttest.Pool
	h      http.Handler
	// vars replace their names in a scenario's path, headers, body and
	// wanted answer; setup functions add to them.
	vars apitest.Vars
	sent []usher.MailParams // the params of the emails the request queued
}

// newEnv builds the surface with the application app:s3cret, the
// header check on, any properties allowed, and what cfg changes. A busy
// env's hashing pool has one slot and no queue.
func newEnv(t *testing.T, cfg func(*thunder.Config), busy bool) *env {
	t.Helper()
	e := &env{pool: accounttest.NewPool(2, 64), vars: map[string]string{}}
	if busy {
		e.pool = accounttest.NewPool(1, 0)
	}
	e.Env = accounttest.New(t, accounttest.WithFaults(&e.faults), accounttest.WithPool(e.pool), func(c *account.Config) {
		c.Lockout.Max = 10
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

// mail is one queued email: its kind and recipient.
type mail = accounttest.Envelope

// drain returns the emails queued since the last call, and keeps their
// params in e.sent.
func (e *env) drain(t *testing.T) []mail {
	t.Helper()
	ms := e.CheckedMail(t)
	e.sent = accounttest.Params(ms)
	return accounttest.Envelopes(ms)
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
				e.pool.Hold(t)
			}
			e.faults.Down.Store(tc.down)
			e.faults.Broken.Store(tc.broken)
			rec := e.do(t, tc.method, tc.path, tc.header, tc.body)
			e.faults.Down.Store(false)
			e.faults.Broken.Store(false)
			expand := e.vars.Expand

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

// do sends one request, with vars expanded.
func (e *env) do(t *testing.T, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, e.h, e.vars, method, path, header, body, nil)
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
