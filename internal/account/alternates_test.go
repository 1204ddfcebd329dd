package account_test

import (
	"testing"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// A check with alternates (Thunder's allowCommonMistakes) costs one hash
// verification per distinct candidate on a wrong password, counts once
// toward the lockout, and a locked account spends the same work before it
// refuses, so that timing does not tell a locked account from an open one.
func TestAlternatesCostAndLockout(t *testing.T) {
	var hasher *password.Hasher
	h := newTestService(t, func(c *account.Config) { hasher = c.Hasher })
	u := h.createUser(t, "sam@example.com", oldPassword)
	alternates := []string{"x" + wrongPassword, wrongPassword + "x", "X" + wrongPassword[1:], wrongPassword} // the last repeats
	read := func() (int64, error) {
		before := hasher.Runs()
		_, err := h.svc.ReadUser(t.Context(), tenant, account.Access{
			Email: "sam@example.com", Password: wrongPassword, Check: true, Alternates: alternates,
		})
		return hasher.Runs() - before, err
	}
	var costs []int64
	for i := range 4 { // lockout Max is 3: the fourth is refused locked
		runs, err := read()
		if usher.ErrorCode(err) == "" {
			t.Fatalf("attempt %d: a wrong password was accepted", i+1)
		}
		costs = append(costs, runs)
		if i < 3 {
			if got := h.user(t, u.ID).FailedChecks; got != i+1 {
				t.Errorf("attempt %d: failure count %d, want %d (one per check, whatever the alternates)", i+1, got, i+1)
			}
		}
	}
	for i, c := range costs {
		if c != 4 {
			t.Errorf("attempt %d cost %d hash runs, want 4 (the password and three distinct alternates); all: %v", i+1, c, costs)
		}
	}
}
