package main

// Email verification on the Thunder surface: POST /verify, the emailed
// link, GET /verify, the success page (with the markup Thunder's own
// suites read) and POST /verify/reset.

import (
	"net/http"
	"testing"
	"time"
)

func TestThunderVerification(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, withThunder, sink.Configure)
	th := s.ThunderAPI
	th.create(t, "ver@example.com", userPassword, map[string]any{"nick": "v"})

	sent := th.sendVerification(t, "ver@example.com", userPassword)
	t.Run("POST /verify returns the unverified user with its token", func(t *testing.T) {
		if sent.Verified || sent.Address != "ver@example.com" {
			t.Errorf("got %+v, want the unverified user", sent)
		}
		if diff := jsonEqualDiff(t, asJSON(t, map[string]any{"nick": "v"}), sent.Props); diff != "" {
			t.Errorf("properties (-want +got):\n%s", diff)
		}
		if got := th.get(t, "ver@example.com", userPassword).token(); got != sent.token() {
			t.Errorf("GET shows token %q, want %q", got, sent.token())
		}
	})
	t.Run("the email holds a link to the public listener with the token", func(t *testing.T) {
		link := sink.verifyLink(t, s.Public, "ver@example.com", 1)
		q := link.Query()
		if got, want := q.Get("token"), sent.token(); got != want {
			t.Errorf("token in the link: got %q, want %q", got, want)
		}
		if got, want := q.Get("email"), "ver@example.com"; got != want {
			t.Errorf("email in the link: got %q, want %q", got, want)
		}
		if got, want := q.Get("response_type"), "html"; got != want {
			t.Errorf("response_type in the link: got %q, want %q", got, want)
		}
	})
	t.Run("GET /verify errors", func(t *testing.T) {
		tests := []struct {
			name       string
			query      string
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"no parameters", "", 400, msgBadEmailParam, ""},
			{"no email", "?token=" + sent.token(), 400, msgBadEmailParam, ""},
			{"empty email", "?email=&token=" + sent.token(), 400, msgBadEmailParam, emptyUser},
			{"no token", emailQuery("ver@example.com"), 400, msgBadTokenParam, "ver@example.com"},
			{"empty token", emailQuery("ver@example.com", "token", ""), 400, msgBadTokenParam, "ver@example.com"},
			{"wrong token", emailQuery("ver@example.com", "token", "0a4b81f3-0756-468e-8d98-7199eaab2ab8"), 400, msgBadToken, "ver@example.com"},
			{"the token with a character changed", emailQuery("ver@example.com", "token", flipLast(sent.token())), 400, msgBadToken, "ver@example.com"},
			{"a prefix of the token", emailQuery("ver@example.com", "token", sent.token()[:20]), 400, msgBadToken, "ver@example.com"},
			{"unknown user", emailQuery("nobody@example.com", "token", sent.token()), 404, msgNotFound, "nobody@example.com"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := th.do(t, "GET", "/verify"+tt.query, "", noBasicAuth)
				res.wantThunderError(t, "GET /verify", tt.wantStatus, tt.wantMsg, tt.wantUser)
			})
		}
		if u := th.get(t, "ver@example.com", userPassword); u.Verified {
			t.Errorf("refused links verified the user")
		}
	})
	t.Run("GET /verify html redirects to the success page", func(t *testing.T) {
		res := th.verifyLink(t, "ver@example.com", sent.token(), "html")
		if res.Status != http.StatusSeeOther {
			t.Fatalf("got %s, want 303", res)
		}
		if got, want := res.Header.Get("Location"), "/verify/success"; got != want {
			t.Errorf("Location: got %q, want %q", got, want)
		}
		if u := th.get(t, "ver@example.com", userPassword); !u.Verified {
			t.Errorf("after the html link: not verified")
		}
	})
	t.Run("GET /verify json returns the verified user", func(t *testing.T) {
		for _, rt := range []string{"json", "JSON", ""} {
			got := th.verifyLink(t, "ver@example.com", sent.token(), rt).wantThunderUser(t, "GET /verify response_type="+rt, http.StatusOK)
			if !got.Verified || got.token() != sent.token() || got.Address != "ver@example.com" {
				t.Errorf("response_type=%q: got %+v, want verified with token %q", rt, got, sent.token())
			}
		}
	})
	t.Run("GET /verify/success", func(t *testing.T) {
		res := th.do(t, "GET", "/verify/success", "", noBasicAuth)
		res.wantSuccessPage(t)
	})
	t.Run("POST /verify/reset", func(t *testing.T) {
		got := th.resetVerification(t, "ver@example.com", userPassword).wantThunderUser(t, "POST /verify/reset", http.StatusOK)
		if got.Verified || got.VerificationToken != nil {
			t.Errorf("got verified %v token %v, want false null", got.Verified, got.VerificationToken)
		}
		if diff := jsonEqualDiff(t, got, th.get(t, "ver@example.com", userPassword)); diff != "" {
			t.Errorf("GET after reset (-reset +get):\n%s", diff)
		}
		th.verifyLink(t, "ver@example.com", sent.token(), "json").wantThunderError(t, "the token after a reset", 400, msgBadToken, "ver@example.com")
	})
	t.Run("query errors on POST /verify and /verify/reset", func(t *testing.T) {
		for _, p := range []string{"/verify", "/verify/reset"} {
			th.do(t, "POST", p, "", withPassword(userPassword)).wantThunderError(t, "POST "+p+" without email", 400, msgBadEmailParam, "")
			th.do(t, "POST", p+"?email=", "", withPassword(userPassword)).wantThunderError(t, "POST "+p+" empty email", 400, msgBadEmailParam, emptyUser)
			th.do(t, "POST", p+emailQuery("nobody@example.com"), "", withPassword(userPassword)).wantThunderError(t, "POST "+p+" unknown user", 404, msgNotFound, "nobody@example.com")
		}
	})
}

// POST /verify writes the new token into the user, as Thunder does: the
// user is unverified until the link is opened, and lastUpdateTime moves.
func TestThunderSendVerificationUnverifies(t *testing.T) {
	clock := newTestClock()
	th := startServer(t, withThunder, func(m *Main) { m.Now = clock.Now }).ThunderAPI
	email := "again@example.com"
	created := th.create(t, email, userPassword, nil)
	first := th.sendVerification(t, email, userPassword)
	th.verifyLink(t, email, first.token(), "json").wantVerified(t, "first link", "json")

	clock.Advance(3 * time.Second)
	second := th.sendVerification(t, email, userPassword)
	if second.Verified {
		t.Error("POST /verify left the user verified; Thunder marks it unverified until the link is opened")
	}
	if want := created.CreationTime + 3000; second.LastUpdateTime != want {
		t.Errorf("lastUpdateTime: got %d, want %d (the time of POST /verify)", second.LastUpdateTime, want)
	}
	if got := th.get(t, email, userPassword); got.Verified || got.token() != second.token() {
		t.Errorf("GET after POST /verify: verified %v token %q; want false %q", got.Verified, got.token(), second.token())
	}
	th.verifyLink(t, email, first.token(), "json").wantThunderError(t, "the first link", http.StatusBadRequest, msgBadToken, email)
	th.verifyLink(t, email, second.token(), "json").wantVerified(t, "the second link", "json")
}

// The success page has Thunder's markup: Thunder's suites read the text of
// its div > div element.
func TestVerifySuccessPageMarkup(t *testing.T) {
	s := startServer(t, withThunder)
	s.ThunderAPI.do(t, "GET", "/verify/success", "", noBasicAuth).wantSuccessPage(t)
	s.PublicAPI.raw(t, "GET", "/verify/success", "").wantSuccessPage(t)
}
