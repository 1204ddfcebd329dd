package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestFloorArg(t *testing.T) {
	dir, mode, n, ok := floorArg([]string{"-login-floor", "/tmp/x", "full", "40"})
	if !ok || dir != "/tmp/x" || mode != "full" || n != 40 {
		t.Fatalf("floorArg = %q %q %d %v", dir, mode, n, ok)
	}
	for _, args := range [][]string{
		{"-login-floor", "/tmp/x", "fast", "40"},
		{"-login-floor", "/tmp/x", "full", "0"},
		{"-login-floor", "/tmp/x", "full"},
		{"-bare-server", "/tmp/x", "full", "40"},
	} {
		if _, _, _, ok := floorArg(args); ok {
			t.Errorf("floorArg(%q) accepted", args)
		}
	}
}

// TestFloorLogin checks that the floor does a login's work: a right
// password gets a signed token and writes a session and an audit entry
// (but in mode none), anything else gets an error and writes nothing.
func TestFloorLogin(t *testing.T) {
	for _, mode := range floorModes {
		t.Run(mode, func(t *testing.T) {
			s, err := openFloor(filepath.Join(t.TempDir(), "floor.db"), mode, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer s.read.Close()
			defer s.write.Close()
			srv := httptest.NewServer(http.HandlerFunc(s.login))
			defer srv.Close()
			post := func(body string) (int, string) {
				t.Helper()
				res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				return res.StatusCode, string(b)
			}
			rows := func() (n int) {
				t.Helper()
				var sessions, audit int
				if err := s.write.QueryRow(`SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM audit)`).Scan(&sessions, &audit); err != nil {
					t.Fatal(err)
				}
				if sessions != audit {
					t.Fatalf("%d sessions but %d audit entries", sessions, audit)
				}
				return sessions
			}

			code, body := post(`{"email":"` + seedEmail(2) + `","password":"` + benchPassword + `"}`)
			if code != http.StatusOK || isJWTString([]byte(body)) != nil {
				t.Fatalf("right password: %d %q", code, body)
			}
			var tok string
			if err := json.Unmarshal([]byte(body), &tok); err != nil || strings.Count(tok, ".") != 2 {
				t.Fatalf("token %q: %v", body, err)
			}
			i := strings.LastIndexByte(tok, '.')
			sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
			if err != nil || !ed25519.Verify(s.key.Public().(ed25519.PublicKey), []byte(tok[:i]), sig) {
				t.Fatalf("the token's EdDSA signature does not verify (%v)", err)
			}
			// The write mode is the SQLite setting it names (none: as full).
			var sync int
			if err := s.write.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"full": 2, "normal": 1, "none": 2}[mode]; sync != want {
				t.Fatalf("synchronous = %d, want %d", sync, want)
			}
			want := 1
			if mode == "none" {
				want = 0
			}
			if got := rows(); got != want {
				t.Fatalf("after a login: %d sessions, want %d", got, want)
			}
			for _, bad := range []struct {
				body string
				code int
			}{
				{`{"email":"` + seedEmail(2) + `","password":"wrong"}`, http.StatusUnauthorized},
				{`{"email":"nobody@bench.example.com","password":"` + benchPassword + `"}`, http.StatusUnauthorized},
				{`{"email":`, http.StatusBadRequest},
			} {
				if code, body := post(bad.body); code != bad.code || strings.Contains(body, ".") {
					t.Errorf("%s: %d %q, want %d and no token", bad.body, code, body, bad.code)
				}
			}
			if got := rows(); got != want {
				t.Fatalf("after refused logins: %d sessions, want %d", got, want)
			}
		})
	}
}
