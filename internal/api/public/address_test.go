package public_test

import (
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/api/apitest"
)

// The client address a request comes from reaches the lockout: guesses from
// one address lock the account for that address only (issue 19, finding 4).
func TestLockoutCountsTheRequestsAddress(t *testing.T) {
	e := newEnv(t, scenario{})
	withAnn(nil)(t, e)
	login := func(addr, pw string) int {
		body := `{"email":"ann@example.com","password":"` + pw + `"}`
		return apitest.Serve(t, e.h, e.vars, "POST", "/login", key, body, func(r *http.Request) { r.RemoteAddr = addr }).Code
	}
	for range 10 {
		if got := login("203.0.113.7:4000", "not-the-Secret-0000"); got != http.StatusUnauthorized {
			t.Fatalf("a wrong guess: got %d, want 401", got)
		}
	}
	if got := login("203.0.113.7:4001", annPassword); got != http.StatusUnauthorized {
		t.Errorf("the right password from the guessing address: got %d, want 401 (locked)", got)
	}
	if got := login("198.51.100.1:5000", annPassword); got != http.StatusOK {
		t.Errorf("the owner, from another address: got %d, want 200", got)
	}
}
