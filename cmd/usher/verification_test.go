package main

// Email verification tokens (API.md, public surface, "Email verification
// link"): reuse, expiry, voiding, wrong tokens, strength and storage.

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wantTokenRefused checks that tok no longer verifies email, on both
// listeners, in Thunder's words and in the native format.
func wantTokenRefused(t testing.TB, s *testServer, email, tok string) {
	t.Helper()
	th, pub := s.ThunderAPI, s.PublicAPI
	th.verifyLink(t, email, tok, "json").wantThunderError(t, "Thunder GET /verify", http.StatusBadRequest, msgBadToken, email)
	th.verifyLink(t, email, tok, "html").wantThunderError(t, "Thunder GET /verify html", http.StatusBadRequest, msgBadToken, email)
	pub.verify(t, email, tok, "json").wantNativeError(t, "public GET /verify", http.StatusBadRequest, "invalid_code")
	pub.verify(t, email, tok, "html").wantNativeError(t, "public GET /verify html", http.StatusBadRequest, "invalid_code")
}

func TestVerificationSecondUseSucceeds(t *testing.T) {
	s := startServer(t, withThunder)
	th, pub := s.ThunderAPI, s.PublicAPI
	th.create(t, "twice@example.com", userPassword, nil)
	tok := th.sendVerification(t, "twice@example.com", userPassword).token()
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
			var res response
			if u.listener == "thunder" {
				res = th.verifyLink(t, email, tok, u.responseType)
			} else {
				res = pub.verify(t, email, tok, u.responseType)
			}
			res.wantVerified(t, u.listener+" GET /verify", u.responseType)
			got := th.get(t, "twice@example.com", userPassword)
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
			clock := newTestClock()
			s := startServer(t, withThunder, clock.Use, func(m *Main) {
				if tt.ttl != 0 {
					m.Config.VerifyTTL = tt.ttl
				}
			})
			th, pub := s.ThunderAPI, s.PublicAPI
			th.create(t, "early@example.com", userPassword, nil)
			th.create(t, "late@example.com", userPassword, nil)
			early := th.sendVerification(t, "early@example.com", userPassword).token()
			late := th.sendVerification(t, "late@example.com", userPassword).token()

			clock.Advance(tt.want - time.Second)
			t.Run("a second before expiry it works", func(t *testing.T) {
				th.verifyLink(t, "early@example.com", early, "json").wantThunderUser(t, "Thunder GET /verify", http.StatusOK)
				if got := th.get(t, "late@example.com", userPassword).token(); got != late {
					t.Errorf("Thunder shows token %q before expiry, want %q", got, late)
				}
			})

			clock.Advance(2 * time.Second)
			t.Run("a second after expiry it fails", func(t *testing.T) {
				wantTokenRefused(t, s, "late@example.com", late)
				got := th.get(t, "late@example.com", userPassword)
				if got.Verified || got.VerificationToken != nil {
					t.Errorf("after expiry: verified %v token %v, want false null", got.Verified, got.VerificationToken)
				}
			})
			t.Run("a new token works", func(t *testing.T) {
				fresh := th.sendVerification(t, "late@example.com", userPassword).token()
				if fresh == late {
					t.Fatal("POST /verify reissued the expired token")
				}
				pub.verify(t, "late@example.com", fresh, "json").wantVerified(t, "public GET /verify", "json")
				if !th.get(t, "late@example.com", userPassword).Verified {
					t.Errorf("not verified with the new token")
				}
			})
		})
	}
}

func TestVerificationVoidedByAccountChanges(t *testing.T) {
	s := startServer(t, withThunder)
	th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
	backendID := func(t testing.TB, email string) string {
		t.Helper()
		return pub.mustMe(t, pub.mustLogin(t, email, userPassword)).UserID
	}
	backendPUT := func(t testing.TB, path string, body any) {
		t.Helper()
		if res := be.do(t, "PUT", path, mustJSON(t, body)); res.Status != http.StatusNoContent {
			t.Fatalf("backend PUT %s: got %s, want 204", path, res)
		}
	}
	thunderPUT := func(t testing.TB, old, email string) {
		t.Helper()
		th.update(t, old, thunderBody(t, email, "", nil), userPassword).wantThunderUser(t, "Thunder PUT", http.StatusOK)
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
			backendPUT(t, "/users/"+id+"/password", map[string]string{"password": otherPassword})
			backendPUT(t, "/users/"+id+"/password", map[string]string{"password": userPassword})
			return e
		}, false, false, false},
		{"Thunder password change keeps it", func(t testing.TB, id, e string) string {
			th.update(t, "", thunderBody(t, e, otherPassword, nil), userPassword).wantThunderUser(t, "Thunder PUT", http.StatusOK)
			th.update(t, "", thunderBody(t, e, userPassword, nil), otherPassword).wantThunderUser(t, "Thunder PUT back", http.StatusOK)
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
			th.update(t, "", thunderBody(t, e, "", map[string]any{"x": 1}), userPassword).wantThunderUser(t, "Thunder PUT", http.StatusOK)
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
			th.create(t, email, userPassword, nil)
			id := backendID(t, email)
			tok := th.sendVerification(t, email, userPassword).token()

			newEmail := tt.change(t, id, email)
			if tt.enableNow {
				backendPUT(t, "/users/"+id+"/enable", nil)
			}
			if tt.wantGone {
				th.verifyLink(t, email, tok, "json").wantThunderError(t, "the token on the old email", http.StatusNotFound, msgNotFound, email)
			}
			if !tt.wantVoid {
				th.verifyLink(t, newEmail, tok, "json").wantVerified(t, "Thunder GET /verify", "json")
				return
			}
			wantTokenRefused(t, s, newEmail, tok)
			u := th.get(t, newEmail, userPassword)
			if u.Verified || u.VerificationToken != nil {
				t.Errorf("after the change: verified %v token %v, want false null", u.Verified, u.VerificationToken)
			}
		})
	}
}

func TestVerificationWrongToken(t *testing.T) {
	s := startServer(t, withThunder)
	th, pub := s.ThunderAPI, s.PublicAPI
	th.create(t, "wrong@example.com", userPassword, nil)
	th.create(t, "other@example.com", userPassword, nil)
	tok := th.sendVerification(t, "wrong@example.com", userPassword).token()
	otherTok := th.sendVerification(t, "other@example.com", userPassword).token()
	tests := []struct {
		name, token string
	}{
		{"random", strings.Repeat("A", len(tok))},
		{"another user's token", otherTok},
		{"Thunder's UUID style", "0a4b81f3-0756-468e-8d98-7199eaab2ab8"},
		{"one character changed", flipLast(tok)},
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
			wantTokenRefused(t, s, "wrong@example.com", tt.token)
		})
	}
	t.Run("the right token still works", func(t *testing.T) {
		if th.get(t, "wrong@example.com", userPassword).Verified {
			t.Fatal("wrong tokens verified the user")
		}
		th.verifyLink(t, "wrong@example.com", tok, "json").wantThunderUser(t, "Thunder GET /verify", http.StatusOK)
	})
	t.Run("no token", func(t *testing.T) {
		th.verifyLink(t, "wrong@example.com", "", "json").wantThunderError(t, "Thunder", http.StatusBadRequest, msgBadTokenParam, "wrong@example.com")
		pub.verify(t, "wrong@example.com", "", "json").wantNativeError(t, "public", http.StatusBadRequest, "invalid_request")
	})
}

func TestVerificationNewerTokenVoidsOlder(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, withThunder, sink.Configure)
	th, pub, be := s.ThunderAPI, s.PublicAPI, s.BackendAPI
	thunderSend := func(t testing.TB, email, _ string) { th.sendVerification(t, email, userPassword) }
	backendSend := func(t testing.TB, _, id string) {
		if res := be.do(t, "POST", "/users/"+id+"/verify", ""); res.Status != http.StatusNoContent {
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
			th.create(t, email, userPassword, nil)
			id := pub.mustMe(t, pub.mustLogin(t, email, userPassword)).UserID

			tt.first(t, email, id)
			older := sink.verifyLink(t, s.Public, email, 1).Query().Get("token")
			tt.second(t, email, id)
			newer := sink.verifyLink(t, s.Public, email, 2).Query().Get("token")
			if older == newer {
				t.Fatalf("the second email carries the first token %q", older)
			}
			if got := th.get(t, email, userPassword).token(); got != newer {
				t.Errorf("Thunder shows token %q, want the newer %q", got, newer)
			}
			wantTokenRefused(t, s, email, older)
			pub.verify(t, email, newer, "json").wantVerified(t, "public GET /verify with the newer token", "json")
			wantTokenRefused(t, s, email, older) // still dead once verified
		})
	}
}

func TestVerificationTokenStrength(t *testing.T) {
	s := startServer(t, withThunder)
	th := s.ThunderAPI
	const n = 8
	seen := map[string]bool{}
	var tokens []string
	for i := range n {
		email := fmt.Sprintf("strong%d@example.com", i%2)
		if i < 2 {
			th.create(t, email, userPassword, nil)
		}
		tok := th.sendVerification(t, email, userPassword).token()
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
			rows := s.dumpTable(t, table)
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

// dumpTable returns every row of table, each column as text.
func (s *testServer) dumpTable(t testing.TB, table string) []map[string]string {
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
