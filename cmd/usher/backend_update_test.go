package main

// The backend surface's updates: email, password, enable and disable, and
// custom data.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBackendSetEmail(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	be := s.BackendAPI
	other := be.newUser(t, "a@x.com", "lantern-tabby-41")
	be.newUser(t, "quack@x.com", "lantern-tabby-41")
	user := func(email string) string { return be.newUser(t, email, "lantern-tabby-41") }

	// changed checks that GET shows the new email as sent (trimmed), a newer
	// updated_at, and that the old address is free again.
	changed := func(id, oldEmail, want string) func(*testing.T, response) {
		return func(t *testing.T, _ response) {
			u := be.get(t, id)
			if u.Email != want {
				t.Errorf("email: got %q, want %q", u.Email, want)
			}
			if got := parseTime(t, u.UpdatedAt); !got.After(parseTime(t, u.CreatedAt)) {
				t.Errorf("updated_at %s is not after created_at %s", u.UpdatedAt, u.CreatedAt)
			}
			if !strings.EqualFold(oldEmail, want) {
				be.newUser(t, oldEmail, "lantern-tabby-41")
			}
		}
	}
	unchanged := func(id, want string) func(*testing.T, response) {
		return func(t *testing.T, _ response) {
			if u := be.get(t, id); u.Email != want {
				t.Errorf("email: got %q, want %q", u.Email, want)
			}
		}
	}
	u1, u2, u3, u4 := user("one@example.com"), user("two@example.com"), user("three@example.com"), user("four@example.com")
	u5 := user("five@example.com")
	clock.Advance(time.Second) // so that updated_at moves
	cases := []scenario{
		{name: "new address", method: "PUT", path: "/users/" + u1 + "/email", body: `{"email":"  One.New@Example.com "}`, status: 204, check: changed(u1, "one@example.com", "One.New@Example.com")},
		{name: "case change of its own address", method: "PUT", path: "/users/" + u2 + "/email", body: `{"email":"TWO@example.COM"}`, status: 204, check: changed(u2, "two@example.com", "TWO@example.COM")},
		{name: "Kelvin sign beside quack@x.com", method: "PUT", path: "/users/" + u3 + "/email", body: `{"email":"quac\u212a@x.com"}`, status: 204, check: changed(u3, "three@example.com", "quac\u212a@x.com")},
		{name: "another user's address", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"a@x.com"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "case variant A@X.com of another user's a@x.com", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"A@X.com"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "case variant QUACK@X.COM", method: "PUT", path: "/users/" + u4 + "/email", body: `{"email":"QUACK@X.COM"}`, status: 409, code: "email_taken", check: unchanged(u4, "four@example.com")},
		{name: "no @", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"five"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "empty", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":""}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "missing", method: "PUT", path: "/users/" + u5 + "/email", body: `{}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "CRLF", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"five@example.com\r\nBcc: x@y.com"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "display name", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"Five <five@example.com>"}`, status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "255 bytes", method: "PUT", path: "/users/" + u5 + "/email", body: mustJSON(t, map[string]string{"email": "a" + email254()}), status: 400, code: "invalid_email", check: unchanged(u5, "five@example.com")},
		{name: "not JSON", method: "PUT", path: "/users/" + u5 + "/email", body: `five@example.org`, status: 400, code: "invalid_json", check: unchanged(u5, "five@example.com")},
		{name: "unknown field", method: "PUT", path: "/users/" + u5 + "/email", body: `{"email":"f@example.org","confirmed":true}`, status: 400, code: "invalid_json", check: unchanged(u5, "five@example.com")},
		{name: "unknown user", method: "PUT", path: "/users/" + unknownID + "/email", body: `{"email":"nobody@example.com"}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(other) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "PUT", path: "/users/" + bad + "/email", body: `{"email":"m@example.com"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}

func TestBackendSetPassword(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	n := 0
	user := func() string {
		n++
		return be.newUser(t, fmt.Sprintf("pw%d@example.com", n), "old-lantern-tabby")
	}
	// now checks which passwords checkpw accepts afterwards.
	now := func(id string, right, wrong []string) func(*testing.T, response) {
		return func(t *testing.T, _ response) {
			for _, pw := range right {
				if !be.checkpw(t, id, pw) {
					t.Errorf("checkpw %q: got false, want true", pw)
				}
			}
			for _, pw := range wrong {
				if be.checkpw(t, id, pw) {
					t.Errorf("checkpw %q: got true, want false", pw)
				}
			}
		}
	}
	u1, u2, u3, u4 := user(), user(), user(), user()
	cases := []scenario{
		{name: "new password", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"new-lantern-tabby"}`, status: 204, check: now(u1, []string{"new-lantern-tabby"}, []string{"old-lantern-tabby"})},
		{name: "no trimming", method: "PUT", path: "/users/" + u2 + "/password", body: `{"password":"  spaced out  "}`, status: 204, check: now(u2, []string{"  spaced out  "}, []string{"spaced out", "old-lantern-tabby"})},
		{name: "8 multi-byte code points", method: "PUT", path: "/users/" + u3 + "/password", body: `{"password":"ääääääää"}`, status: 204, check: now(u3, []string{"ääääääää"}, []string{"aaaaaaaa", "old-lantern-tabby"})},
		{name: "128 code points, no truncation", method: "PUT", path: "/users/" + u4 + "/password", body: mustJSON(t, map[string]string{"password": strings.Repeat("ü", 128)}), status: 204, check: now(u4, []string{strings.Repeat("ü", 128)}, []string{strings.Repeat("ü", 127), strings.Repeat("ü", 36)})},
		{name: "7 code points", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"äääääää"}`, status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "129 code points", method: "PUT", path: "/users/" + u1 + "/password", body: mustJSON(t, map[string]string{"password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "missing", method: "PUT", path: "/users/" + u1 + "/password", body: `{}`, status: 400, code: "invalid_password", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "not JSON", method: "PUT", path: "/users/" + u1 + "/password", body: `new-lantern-tabby-2`, status: 400, code: "invalid_json", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "unknown field", method: "PUT", path: "/users/" + u1 + "/password", body: `{"password":"new-lantern-tabby-2","old":"new-lantern-tabby"}`, status: 400, code: "invalid_json", check: now(u1, []string{"new-lantern-tabby"}, nil)},
		{name: "unknown user", method: "PUT", path: "/users/" + unknownID + "/password", body: `{"password":"new-lantern-tabby"}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(u1) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "PUT", path: "/users/" + bad + "/password", body: `{"password":"new-lantern-tabby"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}

func TestBackendDisableEnable(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "toggle@example.com", "lantern-tabby-41")
	disabled := be.create(t, `{"email":"born.disabled@example.com","password":"lantern-tabby-41","enabled":false}`)

	state := func(id string, enabled bool) func(*testing.T, response) {
		return func(t *testing.T, _ response) {
			if u := be.get(t, id); u.Enabled != enabled {
				t.Errorf("enabled: got %v, want %v", u.Enabled, enabled)
			}
			// The right password logs in only an enabled user.
			if got := be.checkpw(t, id, "lantern-tabby-41"); got != enabled {
				t.Errorf("checkpw with the right password: got %v, want %v", got, enabled)
			}
		}
	}
	cases := []scenario{
		{name: "created disabled", method: "GET", path: "/users/" + disabled, status: 200, check: state(disabled, false)},
		{name: "enable a user created disabled", method: "PUT", path: "/users/" + disabled + "/enable", status: 204, check: state(disabled, true)},
		{name: "disable", method: "PUT", path: "/users/" + id + "/disable", status: 204, check: state(id, false)},
		{name: "disable again", method: "PUT", path: "/users/" + id + "/disable", status: 204, check: state(id, false)},
		{name: "enable", method: "PUT", path: "/users/" + id + "/enable", status: 204, check: state(id, true)},
		{name: "disable unknown user", method: "PUT", path: "/users/" + unknownID + "/disable", status: 404, code: "not_found"},
		{name: "enable unknown user", method: "PUT", path: "/users/" + unknownID + "/enable", status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases,
			scenario{name: "disable, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/disable", status: 404, code: "not_found"},
			scenario{name: "enable, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/enable", status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}

func TestBackendData(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "data@example.com", "lantern-tabby-41")
	fresh := be.newUser(t, "fresh@example.com", "lantern-tabby-41")

	// stored checks that GET data, and the data field of GET user, hold want.
	stored := func(id, want string) func(*testing.T, response) {
		return func(t *testing.T, _ response) {
			r := be.getData(t, id).wantStatus(t, "GET data", http.StatusOK)
			if d := jsonDiff(r.Body, []byte(want)); d != "" {
				t.Errorf("GET data: %s", d)
			}
			if u := be.get(t, id); jsonDiff(u.Data, []byte(want)) != "" {
				t.Errorf("GET user data: %s", jsonDiff(u.Data, []byte(want)))
			}
		}
	}
	put := func(name, body string) scenario {
		return scenario{name: "PUT " + name, method: "PUT", path: "/users/" + id + "/data", body: body, status: 204, check: stored(id, body)}
	}
	cases := []scenario{
		{name: "GET data of a new user", method: "GET", path: "/users/" + fresh + "/data", status: 200, want: `{}`},
		put("flat object", `{"plan":"pro","seats":3}`),
		put("nested values", `{"a":{"b":[1,2,{"c":null}]},"t":true,"f":false}`),
		put("markup and Unicode", `{"name":"Zoë <admin> & \"co\"","duck":"🦆","esc":"\u00e9\n"}`),
		put("numbers kept exactly", `{"big":12345678901234567890123,"pi":3.141592653589793238,"tiny":1e-7,"neg":-0.5}`),
		put("whitespace", " {\n \"a\" : [ 1 , 2 ] \n} "),
		put("empty key", `{"":1}`),
		put("replaces rather than merges", `{"only":"this"}`),
		put("empty object clears", `{}`),
		{
			name: "missing content type accepted", method: "PUT", path: "/users/" + id + "/data", body: `{"ct":"none"}`,
			header: map[string]string{"Content-Type": ""}, status: 204, check: stored(id, `{"ct":"none"}`),
		},
		{name: "array", method: "PUT", path: "/users/" + id + "/data", body: `[1,2]`, status: 400, code: "invalid_data", check: stored(id, `{"ct":"none"}`)},
		{name: "string", method: "PUT", path: "/users/" + id + "/data", body: `"x"`, status: 400, code: "invalid_data", check: stored(id, `{"ct":"none"}`)},
		{name: "not JSON", method: "PUT", path: "/users/" + id + "/data", body: `plan=pro`, status: 400, code: "invalid_json", check: stored(id, `{"ct":"none"}`)},
		{name: "PUT unknown user", method: "PUT", path: "/users/" + unknownID + "/data", body: `{"a":1}`, status: 404, code: "not_found"},
		{name: "GET unknown user", method: "GET", path: "/users/" + unknownID + "/data", status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases,
			scenario{name: "PUT, malformed id: " + name, method: "PUT", path: "/users/" + bad + "/data", body: `{"a":1}`, status: 404, code: "not_found"},
			scenario{name: "GET, malformed id: " + name, method: "GET", path: "/users/" + bad + "/data", status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}
