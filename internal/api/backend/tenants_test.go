package backend_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/usher"
)

// withBlue creates the tenant blue: {blue} is its id, {blueKey} its
// public key, {defaultKey} the default tenant's.
func withBlue(t *testing.T, e *env) {
	t.Helper()
	b, err := e.Service.CreateTenant(t.Context(), "blue")
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	e.vars["{blue}"], e.vars["{blueKey}"], e.vars["{defaultKey}"] = b.ID, b.PublicKey, e.Tenant.PublicKey
}

// withBlueAnn is withBlue, and ann ({id}) in blue.
func withBlueAnn(t *testing.T, e *env) {
	t.Helper()
	withBlue(t, e)
	u, err := e.Service.Create(t.Context(), e.vars["{blue}"], account.NewUser{Email: "ann@example.com", Password: annPassword, Enabled: true, Data: []byte(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatalf("Create in blue: %v", err)
	}
	e.vars["{id}"] = u.ID
}

// tenantJSON is the body of a tenant without a previous key.
func tenantJSON(id, name, key string, created time.Duration) string {
	return fmt.Sprintf(`{"id":%q,"name":%q,"public_key":%q,"previous_key":null,"previous_key_until":null,"created_at":%q}`, id, name, key, at(created))
}

var (
	defaultJSON = tenantJSON(usher.DefaultTenantID, "default", "{defaultKey}", 0)
	blueJSON    = tenantJSON("{blue}", "blue", "{blueKey}", 0)
	inBlue      = map[string]string{"X-Usher-Tenant": "blue"}
	inBlueByID  = map[string]string{"X-Usher-Tenant": "{blue}"}
)

// wantTenant checks that ref names no tenant (want "") or the tenant
// named want.
func wantTenant(ref, want string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		t.Helper()
		got, err := e.Service.Tenant(t.Context(), e.vars.Expand(ref))
		switch {
		case want == "" && usher.ErrorCode(err) != usher.NotFound:
			t.Errorf("Tenant(%s): got %+v, %v; want not_found", ref, got, err)
		case want != "" && (err != nil || got.Name != want):
			t.Errorf("Tenant(%s): got %+v, %v; want %s", ref, got, err, want)
		}
	}
}

func TestCreateTenant(t *testing.T) {
	bad := func(name, body string) checked {
		return checked{scenario: scenario{name: name, method: "POST", path: "/tenants", body: body, status: http.StatusBadRequest, wantCode: usher.Invalid}}
	}
	runChecked(t, []checked{
		{
			scenario: scenario{name: "created", method: "POST", path: "/tenants", header: jsonType, body: `{"name":"blue"}`, status: http.StatusCreated,
				wantHeader: map[string]string{"Content-Type": "application/json"}},
			check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				b, err := e.Service.Tenant(t.Context(), "blue")
				if err != nil {
					t.Fatalf("Tenant(blue): %v", err)
				}
				if got, want := rec.Header().Get("Location"), "/tenants/"+b.ID; got != want {
					t.Errorf("Location: got %q, want %q", got, want)
				}
				if !usher.ValidID(b.ID) || b.PublicKey == "" || b.PublicKey == e.Tenant.PublicKey {
					t.Errorf("the new tenant: id %q key %q, want an id and a key of its own", b.ID, b.PublicKey)
				}
				apitest.CheckNativeBody(t, rec, tenantJSON(b.ID, "blue", b.PublicKey, 0), "")
				if k, err := e.Service.TenantByKey(t.Context(), b.PublicKey); err != nil || k.ID != b.ID {
					t.Errorf("TenantByKey(its key): got %+v, %v; want blue", k, err)
				}
			},
		},
		{
			scenario: scenario{name: "longest name", method: "POST", path: "/tenants", body: `{"name":"` + strings.Repeat("a", 63) + `"}`, status: http.StatusCreated},
			check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				var b struct{ Name string }
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Name != strings.Repeat("a", 63) {
					t.Errorf("body %s: want the name", rec.Body)
				}
			},
		},
		{scenario: scenario{name: "digits, dash and underscore", method: "POST", path: "/tenants", body: `{"name":"9-a_b"}`, status: http.StatusCreated, after: wantTenant("9-a_b", "9-a_b")}, check: func(*testing.T, *env, *httptest.ResponseRecorder) {}},
		bad("empty name", `{"name":""}`),
		bad("no name", `{}`),
		bad("upper case", `{"name":"Blue"}`),
		bad("starts with a dash", `{"name":"-blue"}`),
		bad("a space", `{"name":"blue team"}`),
		bad("too long", `{"name":"`+strings.Repeat("a", 64)+`"}`),
		bad("an id", `{"name":"`+usher.NewID(start)+`"}`),
		bad("not ASCII", `{"name":"bléu"}`),
		{scenario: scenario{name: "unknown field", method: "POST", path: "/tenants", body: `{"name":"blue","public_key":"x"}`, status: http.StatusBadRequest, wantCode: usher.InvalidJSON, after: wantTenant("blue", "")}},
		{scenario: scenario{name: "empty body", method: "POST", path: "/tenants", status: http.StatusBadRequest, wantCode: usher.InvalidJSON}},
		{scenario: scenario{name: "another Content-Type", method: "POST", path: "/tenants", header: map[string]string{"Content-Type": "text/plain"}, body: `{"name":"blue"}`, status: http.StatusUnsupportedMediaType, wantCode: usher.MediaType}},
		{scenario: scenario{name: "taken", setup: withBlue, method: "POST", path: "/tenants", body: `{"name":"blue"}`, status: http.StatusConflict, wantCode: usher.Conflict}},
		{scenario: scenario{name: "the default's name", method: "POST", path: "/tenants", body: `{"name":"default"}`, status: http.StatusConflict, wantCode: usher.Conflict}},
		{scenario: scenario{name: "without a client certificate", method: "POST", path: "/tenants", body: `{"name":"blue"}`, noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: wantTenant("blue", "")}},
	})
}

func TestGetTenants(t *testing.T) {
	withDefaultKey := func(t *testing.T, e *env) { e.vars["{defaultKey}"] = e.Tenant.PublicKey }
	run(t, []scenario{
		{name: "list, only the default", setup: withDefaultKey, method: "GET", path: "/tenants", status: http.StatusOK, wantBody: `{"tenants":[` + defaultJSON + `]}`},
		{name: "list, oldest first", setup: withBlue, method: "GET", path: "/tenants", status: http.StatusOK, wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: `{"tenants":[` + defaultJSON + `,` + blueJSON + `]}`},
		{name: "get by id", setup: withBlue, method: "GET", path: "/tenants/{blue}", status: http.StatusOK, wantBody: blueJSON},
		{name: "get by name", setup: withBlue, method: "GET", path: "/tenants/blue", status: http.StatusOK, wantBody: blueJSON},
		{name: "get the default by name", setup: withDefaultKey, method: "GET", path: "/tenants/default", status: http.StatusOK, wantBody: defaultJSON},
		{name: "get the default by id", setup: withDefaultKey, method: "GET", path: "/tenants/" + usher.DefaultTenantID, status: http.StatusOK, wantBody: defaultJSON},
		{name: "get unknown name", setup: withBlue, method: "GET", path: "/tenants/green", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get unknown id", setup: withBlue, method: "GET", path: "/tenants/{unknown}", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get by a name in another case", setup: withBlue, method: "GET", path: "/tenants/BLUE", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "list without a client certificate", method: "GET", path: "/tenants", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
		{name: "get without a client certificate", setup: withBlue, method: "GET", path: "/tenants/blue", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized},
	})
}

// rotated checks a rotation's answer against the stored tenant: a new
// key, and the old one kept until the clock's time after overlap (none
// when overlap is 0).
func rotated(overlap time.Duration) func(*testing.T, *env, *httptest.ResponseRecorder) {
	return func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
		t.Helper()
		b, err := e.Service.Tenant(t.Context(), "blue")
		if err != nil {
			t.Fatalf("Tenant(blue): %v", err)
		}
		old := e.vars["{blueKey}"]
		if b.PublicKey == "" || b.PublicKey == old {
			t.Errorf("public key after rotation: got %q, want a new one", b.PublicKey)
		}
		want := fmt.Sprintf(`{"id":%q,"name":"blue","public_key":%q,"previous_key":%q,"previous_key_until":%q,"created_at":%q}`,
			b.ID, b.PublicKey, old, e.Clock.Now().Add(overlap).UTC().Format("2006-01-02T15:04:05.000Z07:00"), at(0))
		if overlap == 0 {
			want = tenantJSON(b.ID, "blue", b.PublicKey, 0)
		}
		apitest.CheckNativeBody(t, rec, want, "")
		if k, err := e.Service.TenantByKey(t.Context(), b.PublicKey); err != nil || k.ID != b.ID {
			t.Errorf("TenantByKey(new key): got %+v, %v; want blue", k, err)
		}
		_, err = e.Service.TenantByKey(t.Context(), old)
		if got, want := err == nil, overlap > 0; got != want {
			t.Errorf("TenantByKey(old key) right after the rotation: got %v, want accepted %t", err, want)
		}
		if overlap > 0 {
			e.Clock.Advance(overlap)
			if _, err := e.Service.TenantByKey(t.Context(), old); usher.ErrorCode(err) != usher.NotFound {
				t.Errorf("TenantByKey(old key) once the overlap is over: got %v, want not_found", err)
			}
			rec := e.serve(t, scenario{method: "GET", path: "/tenants/blue"})
			apitest.CheckNativeBody(t, rec, tenantJSON(b.ID, "blue", b.PublicKey, 0), "")
		}
	}
}

func TestRotateTenantKey(t *testing.T) {
	unchanged := func(t *testing.T, e *env) {
		if b, err := e.Service.Tenant(t.Context(), "blue"); err != nil || b.PublicKey != e.vars["{blueKey}"] || b.PreviousKey != "" {
			t.Errorf("Tenant(blue): got %+v, %v; want its key unchanged", b, err)
		}
	}
	runChecked(t, []checked{
		{scenario: scenario{name: "default overlap, no body", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", status: http.StatusOK}, check: rotated(24 * time.Hour)},
		{scenario: scenario{name: "by id, an empty object", setup: withBlue, method: "POST", path: "/tenants/{blue}/rotate-key", body: `{}`, status: http.StatusOK}, check: rotated(24 * time.Hour)},
		{scenario: scenario{name: "overlap 90m", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", header: jsonType, body: `{"overlap":"90m"}`, status: http.StatusOK}, check: rotated(90 * time.Minute)},
		{scenario: scenario{name: "overlap 0s drops the old key", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"0s"}`, status: http.StatusOK}, check: rotated(0)},
		{scenario: scenario{name: "the longest overlap", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"2160h"}`, status: http.StatusOK}, check: rotated(account.MaxKeyOverlap)},
		{
			scenario: scenario{name: "twice: the first key stops at once", method: "POST", path: "/tenants/blue/rotate-key", status: http.StatusOK,
				setup: func(t *testing.T, e *env) {
					withBlue(t, e)
					e.vars["{firstKey}"] = e.vars["{blueKey}"]
					b, err := e.Service.RotateTenantKey(t.Context(), "blue", time.Hour)
					if err != nil {
						t.Fatalf("RotateTenantKey: %v", err)
					}
					e.vars["{blueKey}"] = b.PublicKey
				}},
			check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				rotated(24*time.Hour)(t, e, rec)
				if _, err := e.Service.TenantByKey(t.Context(), e.vars["{firstKey}"]); usher.ErrorCode(err) != usher.NotFound {
					t.Errorf("TenantByKey(first key): got %v, want not_found", err)
				}
			},
		},
		{scenario: scenario{name: "the default tenant", method: "POST", path: "/tenants/default/rotate-key", body: `{"overlap":"1h"}`, status: http.StatusOK},
			check: func(t *testing.T, e *env, rec *httptest.ResponseRecorder) {
				d, err := e.Service.Tenant(t.Context(), "default")
				if err != nil || d.PublicKey == e.Tenant.PublicKey || d.PreviousKey != e.Tenant.PublicKey {
					t.Errorf("Tenant(default): got %+v, %v; want a new key and the old one previous", d, err)
				}
			}},
		{scenario: scenario{name: "overlap not a duration", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"a day"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: unchanged}},
		{scenario: scenario{name: "overlap without a unit", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"3600"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: unchanged}},
		{scenario: scenario{name: "overlap a number", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":3600}`, status: http.StatusBadRequest, wantCode: usher.InvalidJSON, after: unchanged}},
		{scenario: scenario{name: "negative overlap", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"-1h"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: unchanged}},
		{scenario: scenario{name: "overlap over 90 days", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"2161h"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: unchanged}},
		{scenario: scenario{name: "unknown field", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", body: `{"overlap":"1h","key":"x"}`, status: http.StatusBadRequest, wantCode: usher.InvalidJSON, after: unchanged}},
		{scenario: scenario{name: "unknown tenant", setup: withBlue, method: "POST", path: "/tenants/green/rotate-key", status: http.StatusNotFound, wantCode: usher.NotFound, after: unchanged}},
		{scenario: scenario{name: "without a client certificate", setup: withBlue, method: "POST", path: "/tenants/blue/rotate-key", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: unchanged}},
	})
}

func TestDeleteTenant(t *testing.T) {
	userGone := func(t *testing.T, e *env) {
		if _, err := e.Service.User(t.Context(), e.vars["{blue}"], e.vars["{id}"]); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("User in the deleted tenant: got %v, want not_found", err)
		}
		if _, err := e.Service.TenantByKey(t.Context(), e.vars["{blueKey}"]); usher.ErrorCode(err) != usher.NotFound {
			t.Errorf("TenantByKey of the deleted tenant: got %v, want not_found", err)
		}
	}
	userKept := func(t *testing.T, e *env) {
		wantTenant("blue", "blue")(t, e)
		if _, err := e.Service.User(t.Context(), e.vars["{blue}"], e.vars["{id}"]); err != nil {
			t.Errorf("User in the tenant: %v", err)
		}
	}
	withBlueSession := func(t *testing.T, e *env) {
		withBlueAnn(t, e)
		// The key is cached as a public request would have it.
		if _, err := e.Service.TenantByKey(t.Context(), e.vars["{blueKey}"]); err != nil {
			t.Fatalf("TenantByKey: %v", err)
		}
		tok, err := e.Service.Login(apitest.Ctx(t), e.vars["{blue}"], "ann@example.com", annPassword)
		if err != nil {
			t.Fatalf("Login in blue: %v", err)
		}
		e.vars["{token}"] = tok
	}
	run(t, []scenario{
		{name: "empty", setup: withBlue, method: "DELETE", path: "/tenants/blue", status: http.StatusNoContent, after: both(wantTenant("blue", ""), wantTenant("{blue}", ""))},
		{name: "empty, by id", setup: withBlue, method: "DELETE", path: "/tenants/{blue}", status: http.StatusNoContent, after: wantTenant("blue", "")},
		{name: "empty, force=false", setup: withBlue, method: "DELETE", path: "/tenants/blue?force=false", status: http.StatusNoContent, after: wantTenant("blue", "")},
		{name: "with users", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue", status: http.StatusConflict, wantCode: usher.Conflict, after: userKept},
		{name: "with users, force=false", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue?force=false", status: http.StatusConflict, wantCode: usher.Conflict, after: userKept},
		{
			name: "with users, force=true", setup: withBlueSession, method: "DELETE", path: "/tenants/blue?force=true", status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				wantTenant("blue", "")(t, e)
				userGone(t, e)
				if _, _, err := e.Service.Authenticate(t.Context(), e.vars["{blue}"], e.vars["{token}"]); err == nil {
					t.Errorf("Authenticate a session of the deleted tenant: got nil, want an error")
				}
				// The name is free again, and the new tenant is empty.
				rec := e.serve(t, scenario{method: "POST", path: "/tenants", body: `{"name":"blue"}`})
				if rec.Code != http.StatusCreated {
					t.Fatalf("creating blue again: status %d, body %s", rec.Code, rec.Body)
				}
				rec = e.serve(t, scenario{method: "GET", path: "/users", header: inBlue})
				apitest.CheckNativeBody(t, rec, `{"users":[],"next_cursor":null}`, "")
			},
		},
		{name: "force=true leaves other tenants alone", setup: both(withBlueAnn, withAnn(nil)), method: "DELETE", path: "/tenants/blue?force=true", status: http.StatusNoContent, after: wantCheckpw(annPassword, true)},
		{name: "force not a bool", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue?force=yes", status: http.StatusBadRequest, wantCode: usher.Invalid, after: userKept},
		{name: "force twice", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue?force=true&force=true", status: http.StatusBadRequest, wantCode: usher.Invalid, after: userKept},
		{name: "unknown parameter", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue?cascade=true", status: http.StatusBadRequest, wantCode: usher.Invalid, after: userKept},
		{name: "the default tenant", method: "DELETE", path: "/tenants/default", status: http.StatusConflict, wantCode: usher.Conflict, after: wantTenant("default", "default")},
		{name: "the default tenant by id, forced", setup: withAnn(nil), method: "DELETE", path: "/tenants/" + usher.DefaultTenantID + "?force=true", status: http.StatusConflict, wantCode: usher.Conflict, after: wantCheckpw(annPassword, true)},
		{name: "unknown", method: "DELETE", path: "/tenants/green", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "unknown id", method: "DELETE", path: "/tenants/{unknown}?force=true", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "twice", setup: func(t *testing.T, e *env) {
			withBlue(t, e)
			if err := e.Service.DeleteTenant(t.Context(), "blue", false); err != nil {
				t.Fatalf("DeleteTenant: %v", err)
			}
		}, method: "DELETE", path: "/tenants/{blue}", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "without a client certificate", setup: withBlueAnn, method: "DELETE", path: "/tenants/blue?force=true", noCert: true, status: http.StatusUnauthorized, wantCode: usher.Unauthorized, after: userKept},
	})
}

// TestTenantHeader: X-Usher-Tenant chooses the tenant of every user route,
// by name or by id; without it, requests act in the default tenant.
func TestTenantHeader(t *testing.T) {
	blueAnn := userJSON("{id}", "ann@example.com", false, true, `{"plan":"pro"}`)
	blueUser := func(check func(*testing.T, usher.User)) func(*testing.T, *env) {
		return func(t *testing.T, e *env) {
			u, err := e.Service.User(t.Context(), e.vars["{blue}"], e.vars["{id}"])
			if err != nil {
				t.Fatalf("User in blue: %v", err)
			}
			check(t, u)
		}
	}
	withBothAnns := func(t *testing.T, e *env) {
		withBlueAnn(t, e)
		blue := e.vars["{id}"]
		withAnn(confirmed)(t, e)
		e.vars["{defaultAnn}"], e.vars["{id}"] = e.vars["{id}"], blue
	}
	run(t, []scenario{
		{name: "get, no header", setup: withBlueAnn, method: "GET", path: "/users/{id}", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get, by name", setup: withBlueAnn, method: "GET", path: "/users/{id}", header: inBlue, status: http.StatusOK, wantBody: blueAnn},
		{name: "get, by id", setup: withBlueAnn, method: "GET", path: "/users/{id}", header: inBlueByID, status: http.StatusOK, wantBody: blueAnn},
		{name: "get, the default by name", setup: withBlueAnn, method: "GET", path: "/users/{id}", header: map[string]string{"X-Usher-Tenant": "default"}, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "get a default user from blue", setup: both(withBlue, withAnn(nil)), method: "GET", path: "/users/{id}", header: inBlue, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "find, no header", setup: withBlueAnn, method: "GET", path: "/users?email=ann@example.com", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "find, by name", setup: withBlueAnn, method: "GET", path: "/users?email=ANN@example.com", header: inBlue, status: http.StatusOK, wantBody: blueAnn},
		{name: "find, by id", setup: withBlueAnn, method: "GET", path: "/users?email=ann@example.com", header: inBlueByID, status: http.StatusOK, wantBody: blueAnn},
		{name: "find, same email in both", setup: withBothAnns, method: "GET", path: "/users?email=ann@example.com", status: http.StatusOK, wantBody: userJSON("{defaultAnn}", "ann@example.com", true, true, `{"plan":"pro"}`)},
		{name: "list, no header", setup: withBlueAnn, method: "GET", path: "/users?count=true", status: http.StatusOK, wantBody: `{"users":[],"next_cursor":null,"total":0}`},
		{name: "list, by name", setup: withBothAnns, method: "GET", path: "/users?count=true", header: inBlue, status: http.StatusOK, wantBody: `{"users":[` + blueAnn + `],"next_cursor":null,"total":1}`},
		{
			name: "create in blue", setup: withBlue, method: "POST", path: "/users", header: map[string]string{"X-Usher-Tenant": "blue", "Content-Type": "application/json"},
			body: `{"email":"ann@example.com","password":"` + annPassword + `"}`, status: http.StatusCreated,
			wantHeader: map[string]string{"X-Object-ID": "{new}"}, wantBody: userJSON("{new}", "ann@example.com", false, true, "{}"),
			after: func(t *testing.T, e *env) {
				hasUser("ann@example.com", false)(t, e)
				if _, err := e.Service.User(t.Context(), e.vars["{blue}"], e.vars["{new}"]); err != nil {
					t.Errorf("User in blue: %v", err)
				}
			},
		},
		{
			name: "create the same email in the default", setup: withBlueAnn, method: "POST", path: "/users",
			body: `{"email":"ann@example.com","password":"` + annPassword + `"}`, status: http.StatusCreated,
			wantHeader: map[string]string{"X-Object-ID": "{new}"}, wantBody: userJSON("{new}", "ann@example.com", false, true, "{}"),
			after: hasUser("ann@example.com", true),
		},
		{name: "create taken in blue", setup: withBlueAnn, method: "POST", path: "/users", header: inBlue, body: `{"email":"Ann@example.com","password":"` + annPassword + `"}`, status: http.StatusConflict, wantCode: usher.EmailTaken, after: hasUser("ann@example.com", false)},
		{name: "disable, no header", setup: withBlueAnn, method: "PUT", path: "/users/{id}/disable", status: http.StatusNotFound, wantCode: usher.NotFound, after: blueUser(func(t *testing.T, u usher.User) {
			if !u.Enabled {
				t.Errorf("blue ann: disabled from the default tenant")
			}
		})},
		{name: "disable, by name", setup: withBlueAnn, method: "PUT", path: "/users/{id}/disable", header: inBlue, status: http.StatusNoContent, after: blueUser(func(t *testing.T, u usher.User) {
			if u.Enabled {
				t.Errorf("blue ann: still enabled")
			}
		})},
		{name: "set data, by id", setup: withBlueAnn, method: "PUT", path: "/users/{id}/data", header: inBlueByID, body: `{"plan":"team"}`, status: http.StatusNoContent, after: blueUser(func(t *testing.T, u usher.User) {
			if string(u.Data) != `{"plan":"team"}` {
				t.Errorf("blue ann's data: got %s", u.Data)
			}
		})},
		{name: "checkpw, no header", setup: withBlueAnn, method: "POST", path: "/users/{id}/checkpw", body: `{"password":"` + annPassword + `"}`, status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "checkpw, by name", setup: withBlueAnn, method: "POST", path: "/users/{id}/checkpw", header: inBlue, body: `{"password":"` + annPassword + `"}`, status: http.StatusOK, wantBody: `{"result":true}`},
		{name: "sessions, no header", setup: withBlueAnn, method: "GET", path: "/users/{id}/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "sessions, by name", setup: withBlueAnn, method: "GET", path: "/users/{id}/sessions", header: inBlue, status: http.StatusOK, wantBody: `{"sessions":[]}`},
		{name: "end sessions, no header", setup: withBlueAnn, method: "DELETE", path: "/users/{id}/sessions", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "unlock, by id", setup: withBlueAnn, method: "POST", path: "/users/{id}/unlock", header: inBlueByID, status: http.StatusNoContent},
		{name: "unlock, no header", setup: withBlueAnn, method: "POST", path: "/users/{id}/unlock", status: http.StatusNotFound, wantCode: usher.NotFound},
		{name: "delete, no header", setup: withBlueAnn, method: "DELETE", path: "/users/{id}", status: http.StatusNotFound, wantCode: usher.NotFound, after: blueUser(func(*testing.T, usher.User) {})},
		{
			name: "delete, by name", setup: withBlueAnn, method: "DELETE", path: "/users/{id}", header: inBlue, status: http.StatusNoContent,
			after: func(t *testing.T, e *env) {
				if _, err := e.Service.User(t.Context(), e.vars["{blue}"], e.vars["{id}"]); usher.ErrorCode(err) != usher.NotFound {
					t.Errorf("User in blue after delete: got %v, want not_found", err)
				}
			},
		},
		{name: "unknown tenant name", setup: withBlueAnn, method: "GET", path: "/users/{id}", header: map[string]string{"X-Usher-Tenant": "green"}, status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "unknown tenant id", setup: withBlueAnn, method: "GET", path: "/users/{id}", header: map[string]string{"X-Usher-Tenant": "{unknown}"}, status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "not a tenant name", setup: withBlueAnn, method: "GET", path: "/users?email=ann@example.com", header: map[string]string{"X-Usher-Tenant": "Blue Team!"}, status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "unknown tenant, list", method: "GET", path: "/users", header: map[string]string{"X-Usher-Tenant": "green"}, status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "unknown tenant, create", method: "POST", path: "/users", header: map[string]string{"X-Usher-Tenant": "green"}, body: `{"email":"ann@example.com","password":"` + annPassword + `"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: hasUser("ann@example.com", false)},
		{name: "unknown tenant, import", method: "POST", path: "/users/import", header: map[string]string{"X-Usher-Tenant": "green", "Content-Type": "application/x-ndjson"}, body: `{"email":"ann@example.com","password":"` + annPassword + `"}`, status: http.StatusBadRequest, wantCode: usher.Invalid, after: hasUser("ann@example.com", false)},
		{name: "unknown tenant, export", method: "GET", path: "/users/export", header: map[string]string{"X-Usher-Tenant": "green"}, status: http.StatusBadRequest, wantCode: usher.Invalid},
		{name: "a deleted tenant", setup: func(t *testing.T, e *env) {
			withBlueAnn(t, e)
			if err := e.Service.DeleteTenant(t.Context(), "blue", true); err != nil {
				t.Fatalf("DeleteTenant: %v", err)
			}
		}, method: "GET", path: "/users/{id}", header: inBlueByID, status: http.StatusBadRequest, wantCode: usher.Invalid},
	})
}
