package main

// Password reset on the public surface: the codes, by SMTP, and their limits.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

func TestPubResetCodes(t *testing.T) {
	sink := startSMTPSink(t)
	clock := newTestClock()
	s := startServer(t, sink.Configure, clock.Use)
	pub := s.PublicAPI

	// wantUnchanged checks that the password is still the old one.
	wantUnchanged := func(t *testing.T, email string) {
		t.Helper()
		pub.mustLogin(t, email, sessionPassword)
		pub.login(t, email, newPassword).wantNativeError(t, "login with the new password", http.StatusUnauthorized, usher.Unauthorized)
	}

	t.Run("five wrong codes kill the code", func(t *testing.T) {
		const email = "five@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		for i := 1; i <= 5; i++ {
			pub.passwordReset(t, email, wrongCode(code), newPassword).wantNativeError(t, fmt.Sprintf("wrong code %d", i), http.StatusBadRequest, usher.InvalidCode)
		}
		pub.passwordReset(t, email, code, newPassword).wantNativeError(t, "right code after five wrong ones", http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, email)
	})

	t.Run("four wrong codes leave the code alive", func(t *testing.T) {
		const email = "four@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		for i := 1; i <= 4; i++ {
			pub.passwordReset(t, email, wrongCode(code), newPassword).wantNativeError(t, fmt.Sprintf("wrong code %d", i), http.StatusBadRequest, usher.InvalidCode)
		}
		pub.passwordReset(t, email, code, newPassword).wantTrue(t, "right code after four wrong ones")
	})

	t.Run("code as people type it", func(t *testing.T) {
		const email = "typed@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		typed := strings.ToLower(code[:5]) + "-" + code[5:]
		pub.passwordReset(t, email, typed, newPassword).wantTrue(t, "reset with "+typed)
	})

	t.Run("used code fails", func(t *testing.T) {
		const email = "used@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		pub.passwordReset(t, email, code, newPassword).wantTrue(t, "first use")
		pub.passwordReset(t, email, code, "a third passphrase here").wantNativeError(t, "second use", http.StatusBadRequest, usher.InvalidCode)
		pub.mustLogin(t, email, newPassword)
	})

	t.Run("expired code fails", func(t *testing.T) {
		const email = "expired@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		clock.Advance(30*time.Minute + time.Second)
		pub.passwordReset(t, email, code, newPassword).wantNativeError(t, "code after 30 minutes", http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, email)
	})

	t.Run("code just before expiry works", func(t *testing.T) {
		const email = "in-time@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		clock.Advance(29 * time.Minute)
		pub.passwordReset(t, email, code, newPassword).wantTrue(t, "code after 29 minutes")
	})

	t.Run("newer code voids the older", func(t *testing.T) {
		const email = "newer@example.com"
		pub.mustRegister(t, email, sessionPassword)
		older := sink.requestResetCode(t, pub, email, 1)
		newer := sink.requestResetCode(t, pub, email, 2)
		if older == newer {
			t.Fatalf("two reset emails carry the same code %s", older)
		}
		pub.passwordReset(t, email, older, newPassword).wantNativeError(t, "older code", http.StatusBadRequest, usher.InvalidCode)
		pub.passwordReset(t, email, newer, newPassword).wantTrue(t, "newer code")
	})

	t.Run("code serves only its user", func(t *testing.T) {
		const alice, bob = "alice@example.com", "bob@example.com"
		pub.mustRegister(t, alice, sessionPassword)
		pub.mustRegister(t, bob, sessionPassword)
		aliceCode := sink.requestResetCode(t, pub, alice, 1)
		bobCode := sink.requestResetCode(t, pub, bob, 1)
		pub.passwordReset(t, alice, bobCode, newPassword).wantNativeError(t, "bob's code on alice", http.StatusBadRequest, usher.InvalidCode)
		wantUnchanged(t, alice)
		pub.passwordReset(t, alice, aliceCode, newPassword).wantTrue(t, "alice's own code")
	})

	t.Run("refused password does not spend the code", func(t *testing.T) {
		const email = "weak@example.com"
		pub.mustRegister(t, email, sessionPassword)
		code := sink.requestResetCode(t, pub, email, 1)
		pub.passwordReset(t, email, code, "password1").wantNativeError(t, "reset to a common password", http.StatusBadRequest, usher.InvalidPassword)
		pub.passwordReset(t, email, code, newPassword).wantTrue(t, "reset to a good password")
	})

	t.Run("unknown email", func(t *testing.T) {
		pub.passwordReset(t, "nobody@example.com", "ABCDEFGHJK", newPassword).wantNativeError(t, "reset of an unknown email", http.StatusBadRequest, usher.InvalidCode)
	})
}

func TestPubResetRateLimit(t *testing.T) {
	s := startServer(t, func(m *Main) { m.Config.ResetPerHour = 2 })
	pub := s.PublicAPI
	const known, unknown = "many-resets@example.com", "no-such@example.com"
	pub.mustRegister(t, known, sessionPassword)

	var third []response
	for _, email := range []string{known, unknown} {
		for i := 1; i <= 2; i++ {
			pub.passwordSend(t, email).wantTrue(t, fmt.Sprintf("send %d to %s", i, email))
		}
		third = append(third, pub.passwordSend(t, email))
	}
	(third[0]).wantNativeError(t, "third send to a known address", http.StatusTooManyRequests, usher.RateLimited)
	if third[0].Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	sameResponses(t, "third send", []string{known, unknown}, third)

	var queued int
	if err := s.Store.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind = $2`,
		known, usher.MailReset).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 2 {
		t.Errorf("reset emails queued for %s: got %d, want 2", known, queued)
	}
}

// wrongCode returns a well-formed code other than code.
func wrongCode(code string) string {
	if code == "2222222222" {
		return "3333333333"
	}
	return "2222222222"
}
