package main

// End-to-end test of issue 19's first finding: a Thunder read-then-update
// of a user with an imported hash must keep the password.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestThunderReadThenUpdateKeepsAnImportedPassword(t *testing.T) {
	s := startServer(t, withThunder)
	th, pub := s.ThunderAPI, s.PublicAPI
	const email = "imported@example.com"
	th.create(t, email, userPassword, map[string]any{"plan": "free"})

	// The user comes from another system: its hash is bcrypt.
	imported, err := bcrypt.GenerateFromPassword([]byte(userPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s.storeHash(t, email, string(imported))

	// The read upgrades the hash, and shows the hash as stored after it.
	read := th.do(t, "GET", "/users"+emailQuery(email), "", withPassword(userPassword))
	got := read.wantThunderUser(t, "GET", http.StatusOK)
	if !strings.HasPrefix(got.Password, "$argon2id$") {
		t.Fatalf("GET after the upgrade shows %q, want the new argon2id hash", got.Password)
	}
	if again := th.get(t, email, userPassword); again.Password != got.Password {
		t.Errorf("a second GET shows %q, want the hash the first one showed %q", again.Password, got.Password)
	}

	// The client sends back what it read, then once more with the hash it
	// read before the upgrade (an older copy): the password stays.
	var body map[string]any
	if err := json.Unmarshal(read.Body, &body); err != nil {
		t.Fatal(err)
	}
	body["plan"] = "pro"
	th.update(t, email, mustJSON(t, body), userPassword).wantThunderUser(t, "PUT of the user read", http.StatusOK)
	body["password"] = string(imported)
	th.update(t, email, mustJSON(t, body), userPassword).wantThunderUser(t, "PUT with the imported hash", http.StatusOK)

	pub.mustLogin(t, email, userPassword)
	for _, h := range []string{got.Password, string(imported)} {
		if r := pub.login(t, email, h); r.Status != http.StatusUnauthorized {
			t.Errorf("login with a hash string as the password: got %v, want 401", r)
		}
	}
	// And no surface takes a hash string as a new password.
	r := th.do(t, "POST", "/users", thunderBody(t, "other@example.com", string(imported), nil))
	r.wantThunderFormat(t, "POST /users with a hash as the password", http.StatusBadRequest)
}
