package account_test

import (
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// TestListEdges: filters that once reached the database as values it
// could not take (on PostgreSQL: a count beyond INTEGER, a NUL).
func TestListEdges(t *testing.T) {
	e := accounttest.New(t, func(c *account.Config) { c.Lockout.Max = 0 })
	if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "zoë@example.com", Password: "some-Secret-1234", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, locked := range []bool{true, false} {
		p, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, account.ListQuery{Locked: &locked})
		if err != nil {
			t.Fatalf("locked=%t with lockout off: %v", locked, err)
		}
		if want := map[bool]int{true: 0, false: 1}[locked]; len(p.Users) != want {
			t.Errorf("locked=%t with lockout off: %d users, want %d", locked, len(p.Users), want)
		}
	}
	for _, q := range []string{"a\x00b", "tab\there", "bad\xffutf8"} {
		if _, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, account.ListQuery{Email: q}); usher.ErrorCode(err) != usher.Invalid {
			t.Errorf("q=%q: %v; want invalid_request", q, err)
		}
	}
	// The filter is folded as keys are: a decomposed ë finds the composed one.
	p, err := e.Service.ListUsers(t.Context(), e.Tenant.ID, account.ListQuery{Email: "ZOE\u0308"})
	if err != nil || len(p.Users) != 1 {
		t.Errorf("q in NFD and upper case: %v, %d users; want the one", err, len(p.Users))
	}
}
