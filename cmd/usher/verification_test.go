package main

// Email verification tokens (API.md, public surface, "Email verification
// link"): reuse, expiry, voiding, wrong tokens, strength and storage.

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// thClock is a settable clock for Main.Now.
type thClock struct {
	mu  sync.Mutex
	now time.Time
}

func thNewClock() *thClock { return &thClock{now: time.Now().UTC().Truncate(time.Millisecond)} }

// Now returns the clock's time.
func (c *thClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *thClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// publicVerify is the public listener's GET /verify.
func (a *thAPI) publicVerify(t testing.TB, email, tok, responseType string) thResponse {
	t.Helper()
	q := url.Values{"email": {email}, "token": {tok}}
	if responseType != "" {
		q.Set("response_type", responseType)
	}
	return thDo(t, a.client, "GET", a.s.Public+"/verify?"+q.Encode(), "")
}

// thWantVerified checks a successful GET /verify on either listener.
func thWantVerified(t testing.TB, what string, res thResponse, responseType string) {
	t.Helper()
	switch {
	case strings.EqualFold(responseType, "html"):
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/verify/success" {
			t.Errorf("%s: got %s Location %q, want 303 to /verify/success", what, res, res.Header.Get("Location"))
		}
	case res.Status != http.StatusOK:
		t.Errorf("%s: got %s, want 200", what, res)
	}
}

// wantTokenRefused checks that tok no longer verifies email, on both
// listeners, in Thunder's words and in the native format.
func (a *thAPI) wantTokenRefused(t testing.TB, email, tok string) {
	t.Helper()
	thWantError(t, "Thunder GET /verify", a.verifyLink(t, email, tok, "json"), http.StatusBadRequest, thMsgBadToken, email)
	thWantError(t, "Thunder GET /verify html", a.verifyLink(t, email, tok, "html"), http.StatusBadRequest, thMsgBadToken, email)
	thNativeError(t, "public GET /verify", a.publicVerify(t, email, tok, "json"), http.StatusBadRequest, "invalid_code")
	thNativeError(t, "public GET /verify html", a.publicVerify(t, email, tok, "html"), http.StatusBadRequest, "invalid_code")
}

func TestVerificationSecondUseSucceeds(t *testing.T) {
	a := thStart(t)
	a.create(t, "twice@example.com", thPassword, nil)
	tok := a.sendVerification(t, "twice@example.com", thPassword).token()
	uses := []struct {
		name, listener, responseType string
	}{
		{"first use, Thunder json", "thunder", "json"},
		{"second use, Thunder json", "thunder", "json"},
		{"third use, Thunder html", "thunder", "html"},
		{"public json", "public", "json"},
		{"public html", "public", "html"},
		{"public default", "public", ""},
		{"the address in another case", "thunder", "json"},
	}
	for _, u := range uses {
		t.Run(u.name, func(t *testing.T) {
			email := "twice@example.com"
			if strings.Contains(u.name, "another case") {
				email = "Twice@EXAMPLE.com"
			}
			var res thResponse
			if u.listener == "thunder" {
				res = a.verifyLink(t, email, tok, u.responseType)
			} else {
				res = a.publicVerify(t, email, tok, u.responseType)
			}
			thWantVerified(t, u.listener+" GET /verify", res, u.responseType)
			got := a.get(t, "twice@example.com", thPassword)
			if !got.Verified || got.token() != tok {
				t.Errorf("after use: verified %v token %q, want true %q", got.Verified, got.token(), tok)
			}
		})
	}
}

func TestVerificationTokenExpires(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration // 0: the default
		want time.Duration
	}{
		{"default 24h", 0, 24 * time.Hour},
		{"verify-ttl 2h", 2 * time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := thNewClock()
			a := thStart(t, func(m *Main) {
				m.Now = clock.Now
				if tt.ttl != 0 {
					m.Config.VerifyTTL = tt.ttl
				}
			})
			a.create(t, "early@example.com", thPassword, nil)
			a.create(t, "late@example.com", thPassword, nil)
			early := a.sendVerification(t, "early@example.com", thPassword).token()
			late := a.sendVerification(t, "late@example.com", thPassword).token()

			clock.Advance(tt.want - time.Second)
			t.Run("a second before expiry it works", func(t *testing.T) {
				thWantUser(t, "Thunder GET /verify", a.verifyLink(t, "early@example.com", early, "json"), http.StatusOK)
				if got := a.get(t, "late@example.com", thPassword).token(); got != late {
					t.Errorf("Thunder shows token %q before expiry, want %q", got, late)
				}
			})

			clock.Advance(2 * time.Second)
			t.Run("a second after expiry it fails", func(t *testing.T) {
				a.wantTokenRefused(t, "late@example.com", late)
				got := a.get(t, "late@example.com", thPassword)
				if got.Verified || got.VerificationToken != nil {
					t.Errorf("after expiry: verified %v token %v, want false null", got.Verified, got.VerificationToken)
				}
			})
			t.Run("a new token works", func(t *testing.T) {
				fresh := a.sendVerification(t, "late@example.com", thPassword).token()
				if fresh == late {
					t.Fatal("POST /verify reissued the expired token")
				}
				thWantVerified(t, "public GET /verify", a.publicVerify(t, "late@example.com", fresh, "json"), "json")
				if !a.get(t, "late@example.com", thPassword).Verified {
					t.Errorf("not verified with the new token")
				}
			})
		})
	}
}

func TestVerificationVoidedByAccountChanges(t *testing.T) {
	a := thStart(t)
	backendID := func(t testing.TB, email string) string {
		t.Helper()
		return a.me(t, a.login(t, email, thPassword)).UserID
	}
	backendPUT := func(t testing.TB, path string, body any) {
		t.Helper()
		if res := a.backend(t, "PUT", path, mustJSON(t, body)); res.Status != http.StatusNoContent {
			t.Fatalf("backend PUT %s: got %s, want 204", path, res)
		}
	}
	thunderPUT := func(t testing.TB, old, email string) {
		t.Helper()
		thWantUser(t, "Thunder PUT", a.do(t, "PUT", "/users"+thQ(old), thUserBody(t, email, "", nil), thPW(thPassword)), http.StatusOK)
	}
	tests := []struct {
		name      string
		change    func(t testing.TB, id, email string) (newEmail string)
		wantVoid  bool
		wantGone  bool // the old address has no user any more
		enableNow bool // re-enable before checking, so the user can be read
	}{
		{"backend new email", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/email", map[string]string{"email": "new-" + e})
			return "new-" + e
		}, true, true, false},
		{"Thunder new email", func(t testing.TB, id, e string) string {
			thunderPUT(t, e, "new-"+e)
			return "new-" + e
		}, true, true, false},
		{"backend new email and back", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/email", map[string]string{"email": "new-" + e})
			backendPUT(t, "/users/"+id+"/email", map[string]string{"email": e})
			return e
		}, true, false, false},
		{"Thunder new email and back", func(t testing.TB, id, e string) string {
			thunderPUT(t, e, "new-"+e)
			thunderPUT(t, "new-"+e, e)
			return e
		}, true, false, false},
		// A verification link proves the address: a password change or a
		// disable leaves it (API.md), as Thunder keeps its token.
		{"backend password change keeps it", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/password", map[string]string{"password": thOtherPW})
			backendPUT(t, "/users/"+id+"/password", map[string]string{"password": thPassword})
			return e
		}, false, false, false},
		{"Thunder password change keeps it", func(t testing.TB, id, e string) string {
			thWantUser(t, "Thunder PUT", a.do(t, "PUT", "/users", thUserBody(t, e, thOtherPW, nil), thPW(thPassword)), http.StatusOK)
			thWantUser(t, "Thunder PUT back", a.do(t, "PUT", "/users", thUserBody(t, e, thPassword, nil), thPW(thOtherPW)), http.StatusOK)
			return e
		}, false, false, false},
		{"backend disable keeps it", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/disable", nil)
			return e
		}, false, false, true},
		{"backend same email keeps it", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/email", map[string]string{"email": e})
			return e
		}, false, false, false},
		{"Thunder properties only keeps it", func(t testing.TB, id, e string) string {
			thWantUser(t, "Thunder PUT", a.do(t, "PUT", "/users", thUserBody(t, e, "", map[string]any{"x": 1}), thPW(thPassword)), http.StatusOK)
			return e
		}, false, false, false},
		{"backend data only keeps it", func(t testing.TB, id, e string) string {
			backendPUT(t, "/users/"+id+"/data", map[string]any{"x": 1})
			return e
		}, false, false, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := fmt.Sprintf("void%d@example.com", i)
			a.create(t, email, thPassword, nil)
			id := backendID(t, email)
			tok := a.sendVerification(t, email, thPassword).token()

			newEmail := tt.change(t, id, email)
			if tt.enableNow {
				backendPUT(t, "/users/"+id+"/enable", nil)
			}
			if tt.wantGone {
				thWantError(t, "the token on the old email", a.verifyLink(t, email, tok, "json"), http.StatusNotFound, thMsgNotFound, email)
			}
			if !tt.wantVoid {
				thWantVerified(t, "Thunder GET /verify", a.verifyLink(t, newEmail, tok, "json"), "json")
				return
			}
			a.wantTokenRefused(t, newEmail, tok)
			u := a.get(t, newEmail, thPassword)
			if u.Verified || u.VerificationToken != nil {
				t.Errorf("after the change: verified %v token %v, want false null", u.Verified, u.VerificationToken)
			}
		})
	}
}

func TestVerificationWrongToken(t *testing.T) {
	a := thStart(t)
	a.create(t, "wrong@example.com", thPassword, nil)
	a.create(t, "other@example.com", thPassword, nil)
	tok := a.sendVerification(t, "wrong@example.com", thPassword).token()
	otherTok := a.sendVerification(t, "other@example.com", thPassword).token()
	tests := []struct {
		name, token string
	}{
		{"random", strings.Repeat("A", len(tok))},
		{"another user's token", otherTok},
		{"Thunder's UUID style", "0a4b81f3-0756-468e-8d98-7199eaab2ab8"},
		{"one character changed", thFlip(tok)},
		{"one character more", tok + "A"},
		{"one character less", tok[:len(tok)-1]},
		{"upper-cased", strings.ToUpper(tok)},
		{"with a trailing space", tok + " "},
		{"a single character", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == tok {
				t.Skip("the variant equals the token")
			}
			a.wantTokenRefused(t, "wrong@example.com", tt.token)
		})
	}
	t.Run("the right token still works", func(t *testing.T) {
		if a.get(t, "wrong@example.com", thPassword).Verified {
			t.Fatal("wrong tokens verified the user")
		}
		thWantUser(t, "Thunder GET /verify", a.verifyLink(t, "wrong@example.com", tok, "json"), http.StatusOK)
	})
	t.Run("no token", func(t *testing.T) {
		thWantError(t, "Thunder", a.verifyLink(t, "wrong@example.com", "", "json"), http.StatusBadRequest, thMsgBadTokenParam, "wrong@example.com")
		thNativeError(t, "public", a.publicVerify(t, "wrong@example.com", "", "json"), http.StatusBadRequest, "invalid_request")
	})
}

func TestVerificationNewerTokenVoidsOlder(t *testing.T) {
	sink := startSMTPSink(t)
	a := thStart(t, sink.Configure)
	thunderSend := func(t testing.TB, email, _ string) { a.sendVerification(t, email, thPassword) }
	backendSend := func(t testing.TB, _, id string) {
		if res := a.backend(t, "POST", "/users/"+id+"/verify", ""); res.Status != http.StatusNoContent {
			t.Fatalf("backend verify: got %s, want 204", res)
		}
	}
	tests := []struct {
		name          string
		first, second func(t testing.TB, email, id string)
	}{
		{"Thunder then Thunder", thunderSend, thunderSend},
		{"backend then Thunder", backendSend, thunderSend},
		{"Thunder then backend", thunderSend, backendSend},
		{"backend then backend", backendSend, backendSend},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := fmt.Sprintf("newer%d@example.com", i)
			a.create(t, email, thPassword, nil)
			id := a.me(t, a.login(t, email, thPassword)).UserID

			tt.first(t, email, id)
			older := thVerifyLinkN(t, a.s, sink, email, 1).Query().Get("token")
			tt.second(t, email, id)
			newer := thVerifyLinkN(t, a.s, sink, email, 2).Query().Get("token")
			if older == newer {
				t.Fatalf("the second email carries the first token %q", older)
			}
			if got := a.get(t, email, thPassword).token(); got != newer {
				t.Errorf("Thunder shows token %q, want the newer %q", got, newer)
			}
			a.wantTokenRefused(t, email, older)
			thWantVerified(t, "public GET /verify with the newer token", a.publicVerify(t, email, newer, "json"), "json")
			a.wantTokenRefused(t, email, older) // still dead once verified
		})
	}
}

func TestVerificationTokenStrength(t *testing.T) {
	a := thStart(t)
	const n = 8
	seen := map[string]bool{}
	var tokens []string
	for i := range n {
		email := fmt.Sprintf("strong%d@example.com", i%2)
		if i < 2 {
			a.create(t, email, thPassword, nil)
		}
		tok := a.sendVerification(t, email, thPassword).token()
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
		tokens = append(tokens, tok)
	}
	t.Run("at least 128 bits, URL-safe", func(t *testing.T) {
		for _, tok := range tokens {
			if len(tok) < 22 {
				t.Errorf("token %q: %d characters, want at least 22 base64url characters (128 bits)", tok, len(tok))
			}
			if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				t.Errorf("token %q has characters outside base64url", tok)
			}
			if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) < 16 {
				t.Errorf("token %q: decodes to %d bytes (%v), want at least 16", tok, len(b), err)
			}
		}
	})
	t.Run("not stored in plain text", func(t *testing.T) {
		live := map[string]bool{tokens[n-2]: true, tokens[n-1]: true} // the last of each user
		var forms []string
		for _, tok := range tokens {
			forms = append(forms, tok)
			if b, err := base64.RawURLEncoding.DecodeString(tok); err == nil {
				forms = append(forms, hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b))
			}
		}
		for _, table := range []string{"codes", "outbox"} {
			rows := thDumpTable(t, a.s, table)
			if table == "codes" && len(rows) < len(live) {
				t.Fatalf("codes: %d rows, want at least %d (one per live token)", len(rows), len(live))
			}
			for _, row := range rows {
				for col, v := range row {
					for _, f := range forms {
						if strings.Contains(v, f) {
							t.Errorf("%s.%s holds a verification token in plain text (%q)", table, col, f)
						}
					}
				}
			}
		}
	})
}

// thDumpTable returns every row of table, each column as text.
func thDumpTable(t testing.TB, s *testServer, table string) []map[string]string {
	t.Helper()
	rows, err := s.Store.DB().QueryContext(t.Context(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			switch v := vals[i].(type) {
			case []byte:
				row[c] = string(v)
			case nil:
				row[c] = ""
			default:
				row[c] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
