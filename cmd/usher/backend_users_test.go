package main

// The backend surface, end to end: the real server on :0, spoken to over
// mutual TLS, one scenario table per endpoint. This file: create, get and
// delete. The rules every response must keep (request id, no-store, JSON
// bodies, the native error shape) are checked by backendClient.do on every
// request.

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// malformedIDs never name a user; each must be 404, never 400 or 500.
func malformedIDs(existing string) map[string]string {
	return map[string]string{
		"short word":          "xyz",
		"10 KB id":            strings.Repeat("a", 10<<10),
		"upper-case uuid":     strings.ToUpper(existing),
		"uuid without dashes": strings.ReplaceAll(existing, "-", ""),
		"uuid in braces":      url.PathEscape("{" + existing + "}"),
		"uuid plus a char":    existing + "0",
		"sql quote":           url.PathEscape("' OR '1'='1"),
		"percent-encoded nul": "%00",
	}
}

func TestBackendCreate(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	be := s.BackendAPI
	be.newUser(t, "taken@example.com", "lantern-tabby-41")
	be.newUser(t, "a@x.com", "lantern-tabby-41")
	be.newUser(t, "quack@x.com", "lantern-tabby-41")
	be.newUser(t, "info@x.com", "lantern-tabby-41")
	be.newUser(t, "user@bücher.example", "lantern-tabby-41")

	// created checks a 201: X-Object-ID names the user in the body, the body
	// is the user as GET returns it, with the given email and flags.
	created := func(email string, confirmed, enabled bool, data string) func(*testing.T, response) {
		return func(t *testing.T, r response) {
			u := decodeUser(t, r.Body)
			if got := r.Header.Get("X-Object-ID"); got != u.ID {
				t.Errorf("X-Object-ID: got %q, want the body's id %q", got, u.ID)
			}
			if u.Email != email {
				t.Errorf("email: got %q, want %q", u.Email, email)
			}
			if u.Confirmed != confirmed || u.Enabled != enabled {
				t.Errorf("confirmed, enabled: got %v, %v, want %v, %v", u.Confirmed, u.Enabled, confirmed, enabled)
			}
			if d := jsonDiff(u.Data, []byte(data)); d != "" {
				t.Errorf("data: %s", d)
			}
			if got := parseTime(t, u.CreatedAt); !got.Equal(clock.start) {
				t.Errorf("created_at: got %v, want %v", got, clock.start)
			}
			if u.UpdatedAt != u.CreatedAt {
				t.Errorf("updated_at: got %q, want created_at %q", u.UpdatedAt, u.CreatedAt)
			}
			_, got := be.getRaw(t, u.ID)
			if d := jsonDiff(got, r.Body); d != "" {
				t.Errorf("GET after create: %s", d)
			}
		}
	}
	runScenarios(t, be, []scenario{
		{
			name: "POST /users/ with defaults", method: "POST", path: "/users/",
			body:   `{"email":"new1@example.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("new1@example.com", false, true, `{}`),
		},
		{
			name: "POST /users without the slash", method: "POST", path: "/users",
			body:   `{"email":"new2@example.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("new2@example.com", false, true, `{}`),
		},
		{
			name: "every field given", method: "POST", path: "/users/",
			body:   `{"email":"new3@example.com","password":"lantern-tabby-41","confirmed":true,"enabled":false,"data":{"plan":"pro","seats":[1,2]}}`,
			status: 201, check: created("new3@example.com", true, false, `{"plan":"pro","seats":[1,2]}`),
		},
		{
			name: "null optional fields mean the defaults", method: "POST", path: "/users/",
			body:   `{"email":"new4@example.com","password":"lantern-tabby-41","confirmed":null,"enabled":null}`,
			status: 201, check: created("new4@example.com", false, true, `{}`),
		},
		{
			name: "email stored as given after trimming", method: "POST", path: "/users/",
			body:   `{"email":"  Mixed.Case@Example.COM\t","password":"lantern-tabby-41"}`,
			status: 201, check: created("Mixed.Case@Example.COM", false, true, `{}`),
		},
		{
			name: "missing content type accepted", method: "POST", path: "/users/",
			body: `{"email":"new5@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": ""},
			status: 201, check: created("new5@example.com", false, true, `{}`),
		},
		{
			name: "content type with charset accepted", method: "POST", path: "/users/",
			body: `{"email":"new6@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			status: 201, check: created("new6@example.com", false, true, `{}`),
		},
		{
			name: "Kelvin sign does not collide with k", method: "POST", path: "/users/",
			body:   `{"email":"quac\u212a@x.com","password":"lantern-tabby-41"}`,
			status: 201, check: func(t *testing.T, r response) {
				created("quac\u212a@x.com", false, true, `{}`)(t, r)
				// and it is an account of its own from now on
				again := be.do(t, "POST", "/users/", `{"email":"QUAC\u212a@X.com","password":"lantern-tabby-41"}`)
				if again.Status != http.StatusConflict || errorCode(t, again.Body) != "email_taken" {
					t.Errorf("the same Kelvin address again: got %d %s, want 409 email_taken", again.Status, again.Body)
				}
			},
		},
		{
			name: "dotted capital I does not collide with i", method: "POST", path: "/users/",
			body:   `{"email":"\u0130nfo@x.com","password":"lantern-tabby-41"}`,
			status: 201, check: created("\u0130nfo@x.com", false, true, `{}`),
		},
		{
			name: "254-byte address accepted", method: "POST", path: "/users/",
			body:   mustJSON(t, map[string]string{"email": email254(), "password": "lantern-tabby-41"}),
			status: 201, check: created(email254(), false, true, `{}`),
		},

		{name: "same email", method: "POST", path: "/users/", body: `{"email":"taken@example.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "case variant A@X.com of a@x.com", method: "POST", path: "/users/", body: `{"email":"A@X.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "upper-case local part", method: "POST", path: "/users/", body: `{"email":"QUACK@x.com","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "padded with spaces", method: "POST", path: "/users/", body: `{"email":" taken@example.com ","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "IDNA form of a Unicode domain", method: "POST", path: "/users/", body: `{"email":"USER@xn--bcher-kva.example","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},
		{name: "upper-case Unicode domain", method: "POST", path: "/users/", body: `{"email":"user@BÜCHER.example","password":"lantern-tabby-41"}`, status: 409, code: "email_taken"},

		{name: "no email", method: "POST", path: "/users/", body: `{"password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "empty email", method: "POST", path: "/users/", body: `{"email":"","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "email without @", method: "POST", path: "/users/", body: `{"email":"nobody.example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "email with display name", method: "POST", path: "/users/", body: `{"email":"Bob <bob@example.com>","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "two addresses", method: "POST", path: "/users/", body: `{"email":"a1@example.com, b1@example.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "CRLF in email", method: "POST", path: "/users/", body: `{"email":"evil@example.com\r\nBcc: x@y.com","password":"lantern-tabby-41"}`, status: 400, code: "invalid_email"},
		{name: "255-byte address", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "a" + email254(), "password": "lantern-tabby-41"}), status: 400, code: "invalid_email"},
		{name: "no password", method: "POST", path: "/users/", body: `{"email":"nopw@example.com"}`, status: 400, code: "invalid_password"},
		{name: "password of 7", method: "POST", path: "/users/", body: `{"email":"pw7@example.com","password":"1234567"}`, status: 400, code: "invalid_password"},
		{name: "password of 129", method: "POST", path: "/users/", body: mustJSON(t, map[string]string{"email": "pw129@example.com", "password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password"},
		{name: "not JSON", method: "POST", path: "/users/", body: `email=a@b.c&password=lantern-tabby-41`, status: 400, code: "invalid_json"},
		{name: "empty body", method: "POST", path: "/users/", body: ``, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", path: "/users/", body: `{"email":"uf@example.com","password":"lantern-tabby-41","admin":true}`, status: 400, code: "invalid_json"},
		{name: "id field", method: "POST", path: "/users/", body: `{"email":"uf@example.com","password":"lantern-tabby-41","id":"` + unknownID + `"}`, status: 400, code: "invalid_json"},
		{name: "confirmed of the wrong type", method: "POST", path: "/users/", body: `{"email":"wt@example.com","password":"lantern-tabby-41","confirmed":"yes"}`, status: 400, code: "invalid_json"},
		{name: "email of the wrong type", method: "POST", path: "/users/", body: `{"email":["wt@example.com"],"password":"lantern-tabby-41"}`, status: 400, code: "invalid_json"},
		{name: "data of the wrong type", method: "POST", path: "/users/", body: `{"email":"wt@example.com","password":"lantern-tabby-41","data":[1]}`, status: 400, code: "invalid_data"},
		{name: "wrong content type", method: "POST", path: "/users/", body: `{"email":"ct@example.com","password":"lantern-tabby-41"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
	})
}

// email254 is a valid address of exactly 254 bytes.
func email254() string {
	return strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
}

func TestBackendGetUser(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	be := s.BackendAPI
	id := be.create(t, `{"email":"Get.Me@Example.com","password":"lantern-tabby-41","confirmed":true,"data":{"n":1}}`)
	gone := be.newUser(t, "gone@example.com", "lantern-tabby-41")
	if r := be.delete(t, gone); r.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", r.Status)
	}
	cases := []scenario{
		{
			name: "existing user", method: "GET", path: "/users/" + id, status: 200,
			check: func(t *testing.T, r response) {
				u := decodeUser(t, r.Body)
				want := nativeUser{ID: id, Email: "Get.Me@Example.com", Confirmed: true, Enabled: true, Data: u.Data,
					CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
				if !reflect.DeepEqual(u, want) {
					t.Errorf("user: got %+v, want %+v", u, want)
				}
				if d := jsonDiff(u.Data, []byte(`{"n":1}`)); d != "" {
					t.Errorf("data: %s", d)
				}
				for name, ts := range map[string]string{"created_at": u.CreatedAt, "updated_at": u.UpdatedAt} {
					if got := parseTime(t, ts); !got.Equal(clock.start) {
						t.Errorf("%s: got %v, want %v", name, got, clock.start)
					}
				}
			},
		},
		{name: "unknown id", method: "GET", path: "/users/" + unknownID, status: 404, code: "not_found"},
		{name: "deleted user", method: "GET", path: "/users/" + gone, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "GET", path: "/users/" + bad, status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}

func TestBackendDeleteUser(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "delete.me@example.com", "lantern-tabby-41")
	keep := be.newUser(t, "keep@example.com", "lantern-tabby-41")

	cases := []scenario{
		{
			name: "existing user", method: "DELETE", path: "/users/" + id, status: 204,
			check: func(t *testing.T, _ response) {
				for _, r := range [][3]string{
					{"GET", "/users/" + id, ""},
					{"DELETE", "/users/" + id, ""},
					{"GET", "/users/" + id + "/data", ""},
					{"POST", "/users/" + id + "/checkpw", `{"password":"lantern-tabby-41"}`},
					{"PUT", "/users/" + id + "/email", `{"email":"x@example.com"}`},
					{"PUT", "/users/" + id + "/disable", ""},
				} {
					res := be.do(t, r[0], r[1], r[2])
					if res.Status != http.StatusNotFound || errorCode(t, res.Body) != "not_found" {
						t.Errorf("%s %s after delete: got %d %s, want 404 not_found", r[0], r[1], res.Status, res.Body)
					}
				}
				if got := s.userCount(t); got != 1 {
					t.Errorf("users after delete: got %d, want 1", got)
				}
				be.get(t, keep) // the other user is untouched
				// The address is free again.
				be.newUser(t, "Delete.Me@example.com", "lantern-tabby-42")
			},
		},
		{name: "unknown id", method: "DELETE", path: "/users/" + unknownID, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(keep) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "DELETE", path: "/users/" + bad, status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}
