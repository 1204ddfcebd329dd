package main

// Two-factor sign-in end to end: enrol and confirm over the public API,
// then sign in with the password and a code; a code is good once; the
// backend sees and removes the second factor.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestTOTPEndToEnd(t *testing.T) {
	s := startServer(t)
	const pw = "totp-Secret-5150"
	id := s.BackendAPI.newUser(t, "tia@example.com", pw)
	tok := s.PublicAPI.mustLogin(t, "tia@example.com", pw)

	var key struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		PNG    string `json:"qr_png"`
	}
	s.PublicAPI.do(t, "POST", "/me/mfa/totp", "", bearer(tok)).wantStatus(t, "enrol", http.StatusOK).decode(t, "key", &key)
	if key.Secret == "" || !strings.HasPrefix(key.URI, "otpauth://totp/") || len(key.PNG) < 100 {
		t.Fatalf("enrol: %+v; want a secret, an otpauth URI and a QR code", key.URI)
	}
	code := func() string {
		c, err := totp.GenerateCodeCustom(key.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var rec struct {
		Codes []string `json:"recovery_codes"`
	}
	first := code()
	s.PublicAPI.do(t, "POST", "/me/mfa/totp/confirm", `{"code":"`+first+`"}`, bearer(tok)).
		wantStatus(t, "confirm", http.StatusOK).decode(t, "recovery codes", &rec)
	if len(rec.Codes) != 10 {
		t.Fatalf("confirm: %d recovery codes, want 10", len(rec.Codes))
	}

	// The password alone: /login fails safely, /token asks for the code.
	r := s.PublicAPI.login(t, "tia@example.com", pw)
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), `"mfa_required"`) {
		t.Errorf("/login with a second factor on: %v; want 401 mfa_required", r)
	}
	r = s.PublicAPI.do(t, "POST", "/token?grant_type=password", `{"email":"tia@example.com","password":"`+pw+`"}`)
	var challenge struct {
		MFAToken string `json:"mfa_token"`
	}
	if err := json.Unmarshal(r.Body, &challenge); r.Status != http.StatusUnauthorized || err != nil || challenge.MFAToken == "" {
		t.Fatalf("password grant: %v; want 401 with an mfa_token", r)
	}
	// The code that confirmed is spent: a replay in its window is refused.
	s.PublicAPI.do(t, "POST", "/token?grant_type=mfa", `{"mfa_token":"`+challenge.MFAToken+`","code":"`+first+`"}`).
		wantStatus(t, "a replayed code", http.StatusBadRequest)
	var pair struct {
		Access string `json:"access_token"`
	}
	s.PublicAPI.do(t, "POST", "/token?grant_type=mfa", `{"mfa_token":"`+challenge.MFAToken+`","code":"`+rec.Codes[0]+`"}`).
		wantStatus(t, "mfa grant with a recovery code", http.StatusOK).decode(t, "pair", &pair)
	s.PublicAPI.wantMe(t, "the second step's token", pair.Access)

	// The backend sees the second factor, and removes it.
	var mfa struct {
		TOTP bool `json:"totp"`
	}
	s.BackendAPI.do(t, "GET", "/users/"+id+"/mfa", "").wantStatus(t, "GET mfa", http.StatusOK).decode(t, "mfa", &mfa)
	if !mfa.TOTP {
		t.Error("GET /users/{id}/mfa: totp false, want true")
	}
	s.BackendAPI.do(t, "DELETE", "/users/"+id+"/mfa", "").wantStatus(t, "DELETE mfa", http.StatusNoContent)
	s.PublicAPI.mustLogin(t, "tia@example.com", pw)
}
