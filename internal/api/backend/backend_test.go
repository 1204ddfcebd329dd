package backend_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/usher"
)

const (
	annPassword = "first-Secret-8451"
	newPassword = "second-Secret-9362"
	created     = "2030-03-04T05:06:07.000Z" // the injected clock's time, as native bodies write it
)

// jsonType is the JSON Content-Type, which the API also accepts absent.
var jsonType = map[string]string{"Content-Type": "application/json"}

// userJSON is the native body of a user made at the clock's time.
func userJSON(id, email string, confirmed, enabled bool, data string) string {
	return fmt.Sprintf(`{"id":%q,"email":%q,"confirmed":%t,"enabled":%t,"data":%s,"created_at":%q,"updated_at":%q}`,
		id, email, confirmed, enabled, data, created, created)
}

// withAnn creates ann@example.com ({id}), changed by mod before creation.
func withAnn(mod func(*account.NewUser)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		in := account.NewUser{Email: "ann@example.com", Password: annPassword, Enabled: true, Data: []byte(`{"plan":"pro"}`)}
		if mod != nil {
			mod(&in)
		}
		e.createUser(t, in)
	}
}

// withAnnAndBob also creates bob@example.com, whose id is {bob}.
func withAnnAndBob(t *testing.T, e *env) {
	b := e.createUser(t, account.NewUser{Email: "bob@example.com", Password: annPassword, Enabled: true})
	e.vars["{bob}"] = b.ID
	withAnn(nil)(t, e)
}

func confirmed(in *account.NewUser) { in.Confirmed = true }

// withSession is withAnn(mod), logged in on the public surface: {token}.
func withSession(mod func(*account.NewUser)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		withAnn(mod)(t, e)
		tok, err := e.Service.Login(apitest.Ctx(t), e.Tenant.ID, "ann@example.com", annPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		e.vars["{token}"] = tok
	}
}

// sessionEnded checks that {token} is no longer accepted.
func sessionEnded(t *testing.T, e *env) {
	if _, _, err := e.Service.Authenticate(t.Context(), e.Tenant.ID, e.vars["{token}"]); usher.ErrorCode(err) != usher.Unauthorized {
		t.Errorf("Authenticate({token}): got %v, want unauthorized: the change ends every session", err)
	}
}

// both runs a then b.
func both(a, b func(*testing.T, *env)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) { a(t, e); b(t, e) }
}

// wantUser checks the stored user at {id} with check.
func wantUser(check func(t *testing.T, u usher.User)) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		check(t, e.user(t, e.vars["{id}"]))
	}
}

// wantCheckpw checks what CheckPassword answers for {id} and pw.
func wantCheckpw(pw string, want bool) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		if got := e.checkpw(t, e.vars["{id}"], pw); got != want {
			t.Errorf("CheckPassword(%q): got %t, want %t", pw, got, want)
		}
	}
}

func TestCreate(t *testing.T) {
	ann := `{"email":"ann@example.com","password":"` + annPassword + `"}`
	run(t, []scenario{
		{
			name: "defaults", method: "POST", path: "/users/", header: jsonType, body: ann,
			status:     http.StatusCreated,
			wantHeader: map[string]string{"X-Object-ID": "{new}", "Location": "/users/{new}", "Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
			wantBody:   userJSON("{new}", "ann@example.com", false, true, "{}"),
			after: func(t *testing.T, e *env) {
				id := e.vars["{new}"]
				if !usher.ValidID(id) {
					t.Fatalf("X-Object-ID %q is not a user id", id)
				}
				e.vars["{id}"] = id
				wantCheckpw(annPassword, true)(t, e)
			},
		},
		{
			name: "every field, without the slash and without a Content-Type", method: "POST", path: "/users",
			body:       `{"email":"Ann@Example.com","password":"` + annPassword + `","confirmed":true,"enabled":false,"data":{"plan":"pro","seats":[1,2]}}`,
			status:     http.StatusCreated,
			wantHeader: map[string]string{"X-Object-ID": "{new}"},
			wantBody:   userJSON("{new}", "Ann@Example.com", true, false, `{"plan":"pro","seats":[1,2]}`),
		},
		{
			name: "a Content-Type with parameters", method: "POST", path: "/users/",
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: ann,
			status: http.StatusCreated, wantHeader: map[string]string{"X-Object-ID": "{new}"},
			wantBody: userJSON("{new}", "ann@example.com", false, true, "{}"),
		},
		{name: "invalid JSON", method: "POST", path: "/users/", body: `{"email":`, status: 400, wantCode: usher.InvalidJSON},
		{name: "empty body", method: "POST", path: "/users/", status: 400, wantCode: usher.InvalidJSON},
		{name: "not an object", method: "POST", path: "/users/", body: `["ann@example.com"]`, status: 400, wantCode: usher.InvalidJSON},
		{name: "data after the value", method: "POST", path: "/users/", body: ann + `{}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "invalid UTF-8", method: "POST", path: "/users/", body: "{\"email\":\"a\xffb@example.com\",\"password\":\"" + annPassword + "\"}", status: 400, wantCode: usher.InvalidJSON},
		{name: "unknown field", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + annPassword + `","role":"admin"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "duplicate key", method: "POST", path: "/users/", body: `{"email":"ann@example.com","email":"eve@example.com","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "case-variant key", method: "POST", path: "/users/", body: `{"email":"ann@example.com","Email":"eve@example.com","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "wrong type", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + annPassword + `","confirmed":"yes"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "invalid email", method: "POST", path: "/users/", body: `{"email":"not an address","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "missing email", method: "POST", path: "/users/", body: `{"password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "email with a display name", method: "POST", path: "/users/", body: `{"email":"Ann <ann@example.com>","password":"` + annPassword + `"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "password too short", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"short"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "password too long", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + strings.Repeat("é", 129) + `"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "common password", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"password"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "password shaped like a hash", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "data with a reserved key", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + annPassword + `","data":{"password":"x"}}`, status: 400, wantCode: usher.InvalidData},
		{name: "data not an object", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + annPassword + `","data":[1]}`, status: 400, wantCode: usher.InvalidData},
		{name: "data too deep", method: "POST", path: "/users/", body: `{"email":"ann@example.com","password":"` + annPassword + `","data":` + nested(33) + `}`, status: 400, wantCode: usher.InvalidJSON},
		{
			name: "email taken", setup: withAnn(nil), method: "POST", path: "/users/", body: ann,
			status: http.StatusConflict, wantCode: usher.EmailTaken,
		},
		{
			name: "email taken in another case", setup: withAnn(nil), method: "POST", path: "/users/",
			body: `{"email":"ANN@EXAMPLE.COM","password":"` + annPassword + `"}`, status: http.StatusConflict, wantCode: usher.EmailTaken,
		},
		{
			name: "another Content-Type", method: "POST", path: "/users/", header: map[string]string{"Content-Type": "text/plain"}, body: ann,
			status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType,
		},
		{
			name: "form Content-Type", method: "POST", path: "/users/", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: ann,
			status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType,
		},
		{
			name: "body over 1 MiB", method: "POST", path: "/users/",
			body:   `{"email":"ann@example.com","password":"` + annPassword + `","data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`,
			status: http.StatusRequestEntityTooLarge, wantCode: usher.TooLarge,
		},
		{name: "without a client certificate", method: "POST", path: "/users/", body: ann, noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "hashing at capacity", busy: true, method: "POST", path: "/users/", body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Overloaded},
		{name: "database unreachable", down: true, method: "POST", path: "/users/", body: ann, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
	})
}

// nested is a JSON value nested depth deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func TestUser(t *testing.T) {
	run(t, []scenario{
		{
			name: "get", setup: withAnn(confirmed), method: "GET", path: "/users/{id}",
			status: http.StatusOK, wantHeader: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
			wantBody: userJSON("{id}", "ann@example.com", true, true, `{"plan":"pro"}`),
		},
		{name: "get unknown", method: "GET", path: "/users/{unknown}", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get malformed id", method: "GET", path: "/users/not-an-id", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get, database unreachable", setup: withAnn(nil), down: true, method: "GET", path: "/users/{id}", status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
		{name: "get without a client certificate", setup: withAnn(nil), method: "GET", path: "/users/{id}", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{
			name: "delete", setup: withSession(nil), method: "DELETE", path: "/users/{id}", status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				sessionEnded(t, e)
				if _, err := e.Service.User(t.Context(), e.Tenant.ID, e.vars["{id}"]); usher.ErrorCode(err) != usher.NotFound {
					t.Errorf("User after delete: got %v, want not_found", err)
				}
			},
		},
		{name: "delete unknown", method: "DELETE", path: "/users/{unknown}", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "delete malformed id", method: "DELETE", path: "/users/x", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "delete without a client certificate", setup: withAnn(nil), method: "DELETE", path: "/users/{id}", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestEmail(t *testing.T) {
	run(t, []scenario{
		{
			name: "a new address clears confirmed", setup: withSession(confirmed), method: "PUT", path: "/users/{id}/email",
			body: `{"email":"ann@example.org"}`, status: http.StatusNoContent,
			after: both(sessionEnded, wantUser(func(t *testing.T, u usher.User) {
				if u.Email != "ann@example.org" || u.Confirmed {
					t.Errorf("after the change: got email %q confirmed %t, want ann@example.org, false", u.Email, u.Confirmed)
				}
			})),
		},
		{
			name: "the same address in another case keeps confirmed", setup: withAnn(confirmed), method: "PUT", path: "/users/{id}/email",
			body: `{"email":"ANN@example.com"}`, status: http.StatusNoContent,
			after: wantUser(func(t *testing.T, u usher.User) {
				if u.Email != "ANN@example.com" || !u.Confirmed {
					t.Errorf("after the change: got email %q confirmed %t, want ANN@example.com, true", u.Email, u.Confirmed)
				}
			}),
		},
		{name: "taken", setup: withAnnAndBob, method: "PUT", path: "/users/{id}/email", body: `{"email":"Bob@example.com"}`, status: http.StatusConflict, wantCode: usher.EmailTaken},
		{name: "invalid", setup: withAnn(nil), method: "PUT", path: "/users/{id}/email", body: `{"email":"ann"}`, status: 400, wantCode: usher.InvalidEmail},
		{name: "unknown field", setup: withAnn(nil), method: "PUT", path: "/users/{id}/email", body: `{"email":"ann@example.org","confirmed":true}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "unknown user", method: "PUT", path: "/users/{unknown}/email", body: `{"email":"ann@example.org"}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "without a client certificate", setup: withAnn(nil), method: "PUT", path: "/users/{id}/email", body: `{"email":"ann@example.org"}`, noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestPassword(t *testing.T) {
	run(t, []scenario{
		{
			name: "set", setup: withSession(nil), method: "PUT", path: "/users/{id}/password",
			body: `{"password":"` + newPassword + `"}`, status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				wantCheckpw(newPassword, true)(t, e)
				wantCheckpw(annPassword, false)(t, e)
				sessionEnded(t, e)
			},
		},
		{name: "too short", setup: withAnn(nil), method: "PUT", path: "/users/{id}/password", body: `{"password":"1234567"}`, status: 400, wantCode: usher.InvalidPassword, after: wantCheckpw(annPassword, true)},
		{name: "invalid JSON", setup: withAnn(nil), method: "PUT", path: "/users/{id}/password", body: `{"password":}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "unknown user", method: "PUT", path: "/users/{unknown}/password", body: `{"password":"` + newPassword + `"}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "without a client certificate", setup: withAnn(nil), method: "PUT", path: "/users/{id}/password", body: `{"password":"` + newPassword + `"}`, noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: wantCheckpw(annPassword, true)},
	})
}

func TestEnabled(t *testing.T) {
	disabled := func(in *account.NewUser) { in.Enabled = false }
	run(t, []scenario{
		{
			name: "disable: checkpw answers false for the right password", setup: withSession(nil), method: "PUT", path: "/users/{id}/disable",
			status: http.StatusNoContent, after: both(sessionEnded, wantCheckpw(annPassword, false)),
		},
		{
			name: "enable", setup: withAnn(disabled), method: "PUT", path: "/users/{id}/enable",
			status: http.StatusNoContent, after: wantCheckpw(annPassword, true),
		},
		{name: "disable unknown", method: "PUT", path: "/users/{unknown}/disable", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "enable unknown", method: "PUT", path: "/users/{unknown}/enable", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "disable without a client certificate", setup: withAnn(nil), method: "PUT", path: "/users/{id}/disable", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: wantCheckpw(annPassword, true)},
	})
}

func TestData(t *testing.T) {
	run(t, []scenario{
		{
			name: "set", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data",
			body: `{ "plan": "team", "seats": 5, "tags": {"a": [true, null]} }`, status: http.StatusNoContent,
			after: wantUser(func(t *testing.T, u usher.User) {
				if got, want := string(u.Data), `{"plan":"team","seats":5,"tags":{"a":[true,null]}}`; got != want {
					t.Errorf("stored data: got %s, want %s", got, want)
				}
			}),
		},
		{name: "set an array", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: `[1,2]`, status: 400, wantCode: usher.InvalidData},
		{name: "set invalid JSON", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: `{"plan":`, status: 400, wantCode: usher.InvalidJSON},
		{name: "set duplicate keys", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: `{"a":{"b":1,"b":2}}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "set a reserved key in another case", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: `{"plan":"x","CreationTime":1}`, status: 400, wantCode: usher.InvalidData},
		{name: "set too deep", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: nested(33), status: 400, wantCode: usher.InvalidJSON},
		{name: "set the deepest", setup: withAnn(nil), method: "PUT", path: "/users/{id}/data", body: nested(32), status: http.StatusNoContent},
		{name: "set unknown user", method: "PUT", path: "/users/{unknown}/data", body: `{}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get", setup: withAnn(nil), method: "GET", path: "/users/{id}/data", status: http.StatusOK, wantBody: `{"plan":"pro"}`},
		{name: "get none", setup: withAnn(func(in *account.NewUser) { in.Data = nil }), method: "GET", path: "/users/{id}/data", status: http.StatusOK, wantBody: `{}`},
		{name: "get unknown user", method: "GET", path: "/users/{unknown}/data", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get, database unreachable", setup: withAnn(nil), down: true, method: "GET", path: "/users/{id}", status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Unavailable},
		{name: "get without a client certificate", setup: withAnn(nil), method: "GET", path: "/users/{id}/data", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestCheckPassword(t *testing.T) {
	disabled := func(in *account.NewUser) { in.Enabled = false }
	run(t, []scenario{
		{name: "right", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusOK, wantBody: `{"result":true}`},
		{name: "wrong", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + newPassword + `"}`, status: http.StatusOK, wantBody: `{"result":false}`},
		{name: "right, but disabled", setup: withAnn(disabled), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusOK, wantBody: `{"result":false}`},
		{
			name: "right, but locked after 10 failures", method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusOK, wantBody: `{"result":false}`,
			setup: func(t *testing.T, e *env) {
				withAnn(nil)(t, e)
				for range 10 {
					e.checkpw(t, e.vars["{id}"], newPassword)
				}
			},
		},
		{name: "too long", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + strings.Repeat("x", 129) + `"}`, status: 400, wantCode: usher.InvalidPassword},
		{name: "invalid JSON", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `password=x`, status: 400, wantCode: usher.InvalidJSON},
		{name: "unknown field", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"x","email":"ann@example.com"}`, status: 400, wantCode: usher.InvalidJSON},
		{name: "hashing at capacity", setup: withAnn(nil), busy: true, method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusServiceUnavailable, wantHeader: map[string]string{"Retry-After": "1"}, wantCode: usher.Overloaded},
		{name: "unknown user", method: "POST", path: "/users/{unknown}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "malformed id", method: "POST", path: "/users/nope/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "without a client certificate", setup: withAnn(nil), method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestVerify(t *testing.T) {
	run(t, []scenario{
		{
			name: "queues the email", setup: withAnn(nil), method: "POST", path: "/users/{id}/verify", status: http.StatusNoContent,
			wantMail: []mail{{Kind: usher.MailVerify, To: "ann@example.com"}},
		},
		{name: "unknown user", method: "POST", path: "/users/{unknown}/verify", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "without a client certificate", setup: withAnn(nil), method: "POST", path: "/users/{id}/verify", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

func TestRouting(t *testing.T) {
	run(t, []scenario{
		{name: "unknown path", method: "GET", path: "/nope", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "unknown path under a user", method: "GET", path: "/users/{unknown}/nope", status: http.StatusNotFound, wantCode: usher.NotFound},
		{
			name: "method not allowed on a user", method: "PATCH", path: "/users/{unknown}", status: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "DELETE, GET, HEAD"}, wantCode: usher.MethodNotAllow,
		},
		{
			name: "method not allowed on the collection", method: "PATCH", path: "/users/", status: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "GET, HEAD, POST"}, wantCode: usher.MethodNotAllow,
		},
		{
			name: "the request id is echoed", method: "GET", path: "/nope", header: map[string]string{"X-Request-ID": "req-42"},
			status: http.StatusNotFound, wantHeader: map[string]string{"X-Request-ID": "req-42"}, wantCode: usher.NotFound,
		},
	})
}

// TestRouteTable fails when a route is added, dropped or guarded otherwise
// than the scenarios above assume: each route here has scenarios, and all
// need the client certificate.
func TestRouteTable(t *testing.T) {
	want := []string{
		"POST /users/{$} mtls", "POST /users mtls", "GET /users/{$} mtls", "GET /users mtls",
		"POST /users/import mtls", "GET /users/export mtls", "GET /users/{id} mtls", "DELETE /users/{id} mtls",
		"PUT /users/{id}/email mtls", "PUT /users/{id}/password mtls", "PUT /users/{id}/disable mtls",
		"PUT /users/{id}/enable mtls", "PUT /users/{id}/data mtls", "GET /users/{id}/data mtls",
		"POST /users/{id}/checkpw mtls", "POST /users/{id}/verify mtls",
		"POST /users/{id}/unlock mtls", "GET /users/{id}/sessions mtls", "DELETE /users/{id}/sessions mtls",
		"DELETE /users/{id}/sessions/{sid} mtls", "GET /users/{id}/mfa mtls", "DELETE /users/{id}/mfa mtls",
		"POST /tenants mtls", "GET /tenants mtls", "GET /tenants/{tenant} mtls",
		"POST /tenants/{tenant}/rotate-key mtls", "DELETE /tenants/{tenant} mtls",
		"GET /events mtls", "POST /webhooks mtls", "GET /webhooks mtls", "DELETE /webhooks/{id} mtls",
	}
	var got []string
	for _, rt := range backend.New(nil, nil, "").Routes() {
		got = append(got, rt.Pattern+" "+rt.Guard.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
