package public_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/usher"
)

// env is the public surface over a real Service on a real SQLite file.
type env struct {
	*accounttest.Env
	faults accounttest.Faults
	pool   *accounttest.Pool
	h      http.Handler
	// vars replace their names in a scenario's path, headers, body and
	// wanted answer: {pk} is the tenant's public key; setup adds more.
	vars apitest.Vars
}

// newEnv builds the surface of tc, with verification emails on
// registration.
func newEnv(t *testing.T, tc scenario) *env {
	t.Helper()
	e := &env{pool: accounttest.NewPool(2, 64)}
	if tc.busy {
		e.pool = accounttest.NewPool(1, 0) // one slot, no queue
	}
	e.Env = accounttest.New(t, accounttest.WithFaults(&e.faults), accounttest.WithPool(e.pool), func(c *account.Config) {
		c.Lockout.Max = 10
		c.Verify.OnRegister = true
	})
	var limitAuth, limitAll *api.Limiter
	if tc.limited {
		limitAuth = api.NewLimiter(1, time.Minute)
	}
	if tc.limitAll {
		limitAll = api.NewLimiter(1, time.Minute)
	}
	jwks := func() ([]byte, error) { return e.Keys.JWKS(e.Clock.Now()) }
	s := api.Surface{Name: "public", Routes: public.New(e.Service, e.Tenant.ID, jwks, limitAuth).Routes(), Limit: limitAll}
	var err error
	if e.h, err = s.Handler(slog.New(slog.DiscardHandler), nil, false); err != nil {
		t.Fatalf("building the surface: %v", err)
	}
	e.vars = map[string]string{"{pk}": e.Tenant.PublicKey}
	return e
}

// mail is one queued email: its kind and recipient.
type mail = accounttest.Envelope

// drain returns the emails queued since the last call, and their params,
// checking that each carries what its kind needs.
func (e *env) drain(t *testing.T) (mails []mail, params []usher.MailParams) {
	t.Helper()
	ms := e.CheckedMail(t)
	return accounttest.Envelopes(ms), accounttest.Params(ms)
}

// scenario is one request to a fresh surface and the answer it must get.
type scenario struct {
	name     string
	limited  bool                       // limit the credential routes to 1 a minute
	limitAll bool                       // limit the whole surface to 1 a minute
	busy     bool                       // the hashing pool is full
	down     bool                       // the database is unreachable
	setup    func(t *testing.T, e *env) // optional: make users, set vars
	method   string
	path     string
	header   map[string]string
	body     string

	status     int
	wantHeader map[string]string // headers the answer must carry, exact values
	// wantBody is the exact JSON body (compared as JSON). Empty, with
	// wantCode and check unset: no body.
	wantBody string
	wantCode usher.Code // the native error body's code
	// check checks a body that cannot be written down (a token, HTML).
	check    func(t *testing.T, e *env, rec *httptest.ResponseRecorder)
	wantMail []mail // every email queued by the request
	after    func(t *testing.T, e *env)
}

func run(t *testing.T, tests []scenario) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			e.drain(t) // what setup queued is not the request's
			if tc.busy {
				e.pool.Hold(t)
			}
			e.faults.Down.Store(tc.down)
			rec := e.do(t, tc.method, tc.path, tc.header, tc.body)
			e.faults.Down.Store(false)
			expand := e.vars.Expand

			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			for k, v := range tc.wantHeader {
				if got, want := rec.Header().Get(k), expand(v); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, e, rec)
			} else {
				apitest.CheckNativeBody(t, rec, expand(tc.wantBody), tc.wantCode)
			}
			got, _ := e.drain(t)
			// The emails of one request are in no order (queued in one
			// millisecond).
			byKind := cmpopts.SortSlices(func(x, y mail) bool { return x.Kind+x.To < y.Kind+y.To })
			if diff := cmp.Diff(tc.wantMail, got, cmpopts.EquateEmpty(), byKind); diff != "" {
				t.Errorf("emails (-want +got):\n%s", diff)
			}
			if tc.after != nil {
				tc.after(t, e)
			}
		})
	}
}

// do sends one request, with vars expanded, from 192.0.2.1.
func (e *env) do(t *testing.T, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, e.h, e.vars, method, path, header, body, nil)
}
