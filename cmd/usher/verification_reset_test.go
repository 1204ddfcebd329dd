package main

import "testing"

// A password reset by code, end to end, leaves a pending verification link
// working: the link proves the address, not the password (README, "Email
// verification"), so a user who resets a forgotten password before opening
// the link still can. The backend and Thunder password changes and a
// disable are in TestVerificationVoidedByAccountChanges.
func TestVerificationSurvivesPublicPasswordReset(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, withThunder)
	th, pub := s.ThunderAPI, s.PublicAPI
	const email = "reset-keeps-link@example.com"
	th.create(t, email, userPassword, nil)
	tok := th.sendVerification(t, email, userPassword).token()

	code := sink.requestResetCode(t, pub, email, 1)
	pub.passwordReset(t, email, code, otherPassword).wantTrue(t, "password/reset")
	pub.mustLogin(t, email, otherPassword)

	th.verifyLink(t, email, tok, "json").wantVerified(t, "Thunder GET /verify after the reset", "json")
	pub.verify(t, email, tok, "json").wantVerified(t, "public GET /verify after the reset", "json")
}
