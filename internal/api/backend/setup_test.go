package backend_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
)

// start is the injected clock's time: created_at and updated_at of every
// user a test makes.
var start = accounttest.Start

// env is the backend surface over a real Service on a real SQLite file.
type env struct {
	*accounttest.Env
	faults accounttest.Faults
	pool   *accounttest.Pool
	h      http.Handler
	// vars replace their names in a scenario's path, headers, body and
	// wanted answer; setup functions add to them.
	vars apitest.Vars
}

// newEnv builds the surface. A busy env's hashing pool has one slot and no
// queue.
func newEnv(t *testing.T, busy bool) *env {
	t.Helper()
	// {unknown} is a well-formed id that names no user.
	e := &env{pool: accounttest.NewPool(2, 64), vars: map[string]string{"{unknown}": usher.NewID(start)}}
	if busy {
		e.pool = accounttest.NewPool(1, 0)
	}
	e.Env = accounttest.New(t, accounttest.WithFaults(&e.faults), accounttest.WithPool(e.pool), func(c *account.Config) { c.Lockout.Max = 10 })
	s := api.Surface{Name: "backend", Routes: backend.New(e.Service, &transfer.Transfer{Accounts: e.Service}, e.Tenant.ID).Routes()}
	var err error
	if e.h, err = s.Handler(slog.New(slog.DiscardHandler), nil, false); err != nil {
		t.Fatalf("building the surface: %v", err)
	}
	return e
}

// createUser creates a user and sets {id} to its id.
func (e *env) createUser(t *testing.T, in account.NewUser) usher.User {
	t.Helper()
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, in)
	if err != nil {
		t.Fatalf("Create(%q): %v", in.Email, err)
	}
	e.vars["{id}"] = u.ID
	return u
}

// user reads a user back through the Service.
func (e *env) user(t *testing.T, id string) usher.User {
	t.Helper()
	u, err := e.Service.User(t.Context(), e.Tenant.ID, id)
	if err != nil {
		t.Fatalf("User(%s): %v", id, err)
	}
	return u
}

// checkpw runs CheckPassword and fails the test on an error.
func (e *env) checkpw(t *testing.T, id, pw string) bool {
	t.Helper()
	ok, err := e.Service.CheckPassword(apitest.Ctx(t), e.Tenant.ID, id, pw)
	if err != nil {
		t.Fatalf("CheckPassword: %v", err)
	}
	return ok
}

// mail is one queued email: its kind and recipient.
type mail = accounttest.Envelope

// mails returns the emails queued since the last call, checking that each
// message's params carry what its kind needs.
func (e *env) mails(t *testing.T) []mail {
	t.Helper()
	return accounttest.Envelopes(e.CheckedMail(t))
}

var (
	certOnce sync.Once
	cert     *x509.Certificate
	certErr  error
)

// clientCert returns a self-signed certificate, as the listener would
// have verified it.
func clientCert(t *testing.T) *x509.Certificate {
	t.Helper()
	certOnce.Do(func() {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "backend client"},
			NotBefore: start.Add(-time.Hour), NotAfter: start.Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			certErr = err
			return
		}
		cert, certErr = x509.ParseCertificate(der)
	})
	if certErr != nil {
		t.Fatalf("making the client certificate: %v", certErr)
	}
	return cert
}

// scenario is one request to a fresh surface and the answer it must get.
type scenario struct {
	name   string
	setup  func(t *testing.T, e *env) // optional: make users, set vars
	method string
	path   string
	header map[string]string
	body   string
	noCert bool // send the request without a verified client certificate
	busy   bool // the hashing pool is full
	down   bool // the database is unreachable

	status int
	// wantHeader are headers the answer must carry, with exact values.
	wantHeader map[string]string
	// wantBody is the exact JSON body (compared as JSON); {new} stands for
	// the X-Object-ID of the answer. Empty with wantCode empty: no body.
	wantBody string
	wantCode usher.Code // the native error body's code
	wantMail []mail     // every email queued by the request
	// after checks state behind the surface once the answer is checked.
	after func(t *testing.T, e *env)
}

func run(t *testing.T, tests []scenario) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.busy)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			e.mails(t) // what setup queued is not the request's
			if tc.busy {
				e.pool.Hold(t)
			}
			e.faults.Down.Store(tc.down)
			rec := e.serve(t, tc)
			e.faults.Down.Store(false)
			e.vars["{new}"] = rec.Header().Get("X-Object-ID")
			expand := e.vars.Expand

			if rec.Code != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			for k, v := range tc.wantHeader {
				if got, want := rec.Header().Get(k), expand(v); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			apitest.CheckNativeBody(t, rec, expand(tc.wantBody), tc.wantCode)
			if diff := cmp.Diff(tc.wantMail, e.mails(t), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("emails (-want +got):\n%s", diff)
			}
			if tc.after != nil {
				tc.after(t, e)
			}
		})
	}
}

func (e *env) serve(t *testing.T, tc scenario) *httptest.ResponseRecorder {
	t.Helper()
	return apitest.Serve(t, e.h, e.vars, tc.method, tc.path, tc.header, tc.body, func(req *http.Request) {
		if !tc.noCert {
			req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{clientCert(t)}}}
		}
	})
}
