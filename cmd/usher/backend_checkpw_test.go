package main

// The backend's password check and the lockout it keeps.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBackendCheckPassword(t *testing.T) {
	s := startServer(t, newTestClock().Use)
	be := s.BackendAPI
	id := be.newUser(t, "check@example.com", "  right lantern tabby ")
	path := "/users/" + id + "/checkpw"
	cases := []scenario{
		{name: "right password", method: "POST", path: path, body: `{"password":"  right lantern tabby "}`, status: 200, want: `{"result":true}`},
		{name: "wrong password", method: "POST", path: path, body: `{"password":"wrong lantern tabby"}`, status: 200, want: `{"result":false}`},
		{name: "trimmed password", method: "POST", path: path, body: `{"password":"right lantern tabby"}`, status: 200, want: `{"result":false}`},
		{name: "empty password", method: "POST", path: path, body: `{"password":""}`, status: 200, want: `{"result":false}`},
		{name: "right again", method: "POST", path: path, body: `{"password":"  right lantern tabby "}`, status: 200, want: `{"result":true}`},
		{name: "too long", method: "POST", path: path, body: mustJSON(t, map[string]string{"password": strings.Repeat("p", 129)}), status: 400, code: "invalid_password"},
		{name: "not JSON", method: "POST", path: path, body: `right lantern tabby`, status: 400, code: "invalid_json"},
		{name: "unknown field", method: "POST", path: path, body: `{"password":"x","email":"check@example.com"}`, status: 400, code: "invalid_json"},
		{name: "password of the wrong type", method: "POST", path: path, body: `{"password":12345678}`, status: 400, code: "invalid_json"},
		{name: "wrong content type", method: "POST", path: path, body: `{"password":"x"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "unknown user", method: "POST", path: "/users/" + unknownID + "/checkpw", body: `{"password":"  right lantern tabby "}`, status: 404, code: "not_found"},
	}
	for name, bad := range malformedIDs(id) {
		cases = append(cases, scenario{name: "malformed id: " + name, method: "POST", path: "/users/" + bad + "/checkpw", body: `{"password":"x"}`, status: 404, code: "not_found"})
	}
	runScenarios(t, be, cases)
}

func TestBackendLockout(t *testing.T) {
	clock := newTestClock()
	s := startServer(t, clock.Use)
	be := s.BackendAPI // LockoutMax 10, LockoutWindow 15 minutes
	const right = "right-lantern-tabby"
	wrong := func(t *testing.T, id string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if be.checkpw(t, id, "wrong-lantern-tabby") {
				t.Fatalf("wrong password %d: got true", i+1)
			}
		}
	}
	cases := []struct {
		name  string
		steps func(t *testing.T, id string)
	}{
		{"ten failures lock the account", func(t *testing.T, id string) {
			wrong(t, id, 10)
			for i := range 3 {
				if be.checkpw(t, id, right) {
					t.Fatalf("right password while locked, try %d: got true, want false", i+1)
				}
			}
			clock.Advance(15*time.Minute + time.Second)
			if !be.checkpw(t, id, right) {
				t.Errorf("right password after the window: got false, want true")
			}
		}},
		{"nine failures do not lock, and success clears them", func(t *testing.T, id string) {
			wrong(t, id, 9)
			if !be.checkpw(t, id, right) {
				t.Fatalf("right password after 9 failures: got false, want true")
			}
			wrong(t, id, 9)
			if !be.checkpw(t, id, right) {
				t.Errorf("right password after 9 more failures: got false, want true")
			}
		}},
		{"failures outside the window do not count", func(t *testing.T, id string) {
			wrong(t, id, 9)
			clock.Advance(16 * time.Minute)
			wrong(t, id, 1)
			if !be.checkpw(t, id, right) {
				t.Errorf("right password: got false, want true")
			}
		}},
		{"a locked account stays locked for the whole window", func(t *testing.T, id string) {
			wrong(t, id, 10)
			clock.Advance(14 * time.Minute)
			if be.checkpw(t, id, right) {
				t.Errorf("right password 14 minutes in: got true, want false")
			}
		}},
		{"lockout is per account", func(t *testing.T, id string) {
			other := be.newUser(t, "bystander@example.com", right)
			wrong(t, id, 10)
			if !be.checkpw(t, other, right) {
				t.Errorf("another account's right password: got false, want true")
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.steps(t, be.newUser(t, fmt.Sprintf("locked%d@example.com", i), right))
		})
	}
}
