package main

// PUT /users on the Thunder surface: properties, password and email, and
// what Thunder's own test suites expect of it beyond its documents (issue
// 12, part 4): a PUT that sends back the user's own password keeps it.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
)

func TestThunderUpdate(t *testing.T) {
	t.Run("properties replaced, times kept", func(t *testing.T) {
		th := startServer(t, withThunder).ThunderAPI
		before := th.create(t, "upd@example.com", userPassword, map[string]any{"a": 1, "b": "x"})
		res := th.update(t, "", thunderBody(t, "upd@example.com", before.Password, map[string]any{"b": "y", "c": []any{true}}), userPassword)
		got := res.wantThunderUser(t, "PUT", http.StatusOK)
		if diff := jsonEqualDiff(t, asJSON(t, map[string]any{"b": "y", "c": []any{true}}), got.Props); diff != "" {
			t.Errorf("properties (-want +got):\n%s", diff)
		}
		if got.CreationTime != before.CreationTime {
			t.Errorf("creationTime: got %d, want %d", got.CreationTime, before.CreationTime)
		}
		if got.LastUpdateTime < before.LastUpdateTime {
			t.Errorf("lastUpdateTime: got %d, want at least %d", got.LastUpdateTime, before.LastUpdateTime)
		}
		if diff := jsonEqualDiff(t, got, th.get(t, "upd@example.com", userPassword)); diff != "" {
			t.Errorf("GET after PUT (-put +get):\n%s", diff)
		}
	})

	t.Run("verification fields in the body are ignored", func(t *testing.T) {
		th := startServer(t, withThunder).ThunderAPI
		th.create(t, "unv@example.com", userPassword, nil)
		body := `{"email":{"address":"unv@example.com","verified":true,"verificationToken":"0a4b81f3-0756-468e-8d98-7199eaab2ab8"}}`
		got := th.update(t, "", body, userPassword).wantThunderUser(t, "PUT claiming verified", http.StatusOK)
		if got.Verified || got.VerificationToken != nil {
			t.Errorf("a client verified itself: verified %v token %v", got.Verified, got.VerificationToken)
		}

		th.create(t, "ver2@example.com", userPassword, nil)
		tok := th.sendVerification(t, "ver2@example.com", userPassword).token()
		th.verifyLink(t, "ver2@example.com", tok, "json").wantThunderUser(t, "verify", http.StatusOK)
		body = `{"email":{"address":"ver2@example.com","verified":false,"verificationToken":null}}`
		got = th.update(t, "", body, userPassword).wantThunderUser(t, "PUT as in the seed", http.StatusOK)
		if !got.Verified || got.token() != tok {
			t.Errorf("same email: verified %v token %q, want true %q", got.Verified, got.token(), tok)
		}
	})

	t.Run("password", func(t *testing.T) {
		th := startServer(t, withThunder).ThunderAPI
		tests := []struct {
			name      string
			password  func(stored string) any // the body's password field; nil: left out
			wantPW    string                  // the password that works afterwards
			wantNewPW bool                    // the stored hash changes
		}{
			{"the stored hash keeps it", func(h string) any { return h }, userPassword, false},
			{"left out keeps it", nil, userPassword, false},
			{"null keeps it", func(string) any { return nil }, userPassword, false},
			{"empty keeps it", func(string) any { return "" }, userPassword, false},
			{"a new plain one changes it", func(string) any { return otherPassword }, otherPassword, true},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				email := "pw" + string(rune('a'+i)) + "@example.com"
				before := th.create(t, email, userPassword, nil)
				body := map[string]any{"email": map[string]any{"address": email}}
				if tt.password != nil {
					body["password"] = tt.password(before.Password)
				}
				b, _ := json.Marshal(body)
				got := th.update(t, "", string(b), userPassword).wantThunderUser(t, "PUT", http.StatusOK)
				if changed := got.Password != before.Password; changed != tt.wantNewPW {
					t.Errorf("stored hash changed: got %v, want %v", changed, tt.wantNewPW)
				}
				if !strings.HasPrefix(got.Password, "$argon2id$") {
					t.Errorf("password: got %q, want a $argon2id$ PHC string", got.Password)
				}
				for _, pw := range []string{userPassword, otherPassword} {
					res := th.do(t, "GET", "/users"+emailQuery(email), "", withPassword(pw))
					if pw == tt.wantPW {
						res.wantThunderUser(t, "GET with the password in force", http.StatusOK)
					} else {
						res.wantThunderError(t, "GET with the other password", 401, msgBadCredentials, email)
					}
				}
			})
		}
		t.Run("a new password outside the policy", func(t *testing.T) {
			th.create(t, "weak@example.com", userPassword, nil)
			res := th.update(t, "", thunderBody(t, "weak@example.com", "short", nil), userPassword)
			if res.Status != http.StatusBadRequest {
				t.Errorf("got %s, want 400", res)
			}
			th.get(t, "weak@example.com", userPassword)
		})
	})

	t.Run("email", func(t *testing.T) {
		th := startServer(t, withThunder).ThunderAPI
		th.create(t, "taken2@example.com", userPassword, nil)
		tests := []struct {
			name       string
			old, new   string
			lookup     string // ?email=lookup; "" sends none
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"new email with ?email=old", "old1@example.com", "new1@example.com", "old1@example.com", 200, "", ""},
			{"only the case of the domain", "old2@example.com", "old2@EXAMPLE.com", "old2@example.com", 200, "", ""},
			{"only the case of the local part", "old3@example.com", "OLD3@example.com", "old3@example.com", 200, "", ""},
			{"?email=old in another case", "old4@example.com", "new4@example.com", "Old4@Example.com", 200, "", ""},
			// Thunder names the user being updated, not the address it wanted.
			{"new email taken", "old5@example.com", "taken2@example.com", "old5@example.com", 409, msgConflictUpdate, "old5@example.com"},
			{"new email taken in another case", "old6@example.com", "Taken2@Example.com", "old6@example.com", 409, msgConflictUpdate, "old6@example.com"},
			{"new email without ?email=old", "old7@example.com", "new7@example.com", "", 404, msgNotFound, "new7@example.com"},
			{"?email=old unknown", "old8@example.com", "new8@example.com", "nobody@example.com", 404, msgNotFound, "nobody@example.com"},
			{"new email invalid", "old9@example.com", "not-an-email", "old9@example.com", 400, msgBadEmail, "not-an-email"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				th.create(t, tt.old, userPassword, map[string]any{"keep": "me"})
				// Verified, with a live token.
				tok := th.sendVerification(t, tt.old, userPassword).token()
				th.verifyLink(t, tt.old, tok, "json").wantThunderUser(t, "verify", http.StatusOK)

				path := "/users"
				if tt.lookup != "" {
					path += emailQuery(tt.lookup)
				}
				res := th.do(t, "PUT", path, thunderBody(t, tt.new, "", map[string]any{"keep": "me"}), withPassword(userPassword))
				if tt.wantStatus != http.StatusOK {
					res.wantThunderError(t, "PUT", tt.wantStatus, tt.wantMsg, tt.wantUser)
					// Nothing changed: still verified with the same token.
					u := th.get(t, tt.old, userPassword)
					if !u.Verified || u.token() != tok {
						t.Errorf("after a refused PUT: verified %v token %q, want true %q", u.Verified, u.token(), tok)
					}
					return
				}
				got := res.wantThunderUser(t, "PUT", http.StatusOK)
				sameAddress := strings.EqualFold(tt.old, tt.new)
				if got.Address != tt.new {
					t.Errorf("address: got %q, want %q", got.Address, tt.new)
				}
				if sameAddress {
					// The same address (the domain is case-insensitive) is
					// not a new email: verification stays.
					if !got.Verified || got.token() != tok {
						t.Errorf("same address: verified %v token %q, want true %q", got.Verified, got.token(), tok)
					}
					return
				}
				if got.Verified || got.VerificationToken != nil {
					t.Errorf("new email: verified %v token %v, want false null", got.Verified, got.VerificationToken)
				}
				th.do(t, "GET", "/users"+emailQuery(tt.old), "", withPassword(userPassword)).wantThunderError(t, "GET the old email", 404, msgNotFound, tt.old)
				if diff := jsonEqualDiff(t, got, th.get(t, tt.new, userPassword)); diff != "" {
					t.Errorf("GET new email (-put +get):\n%s", diff)
				}
				th.verifyLink(t, tt.new, tok, "json").wantThunderError(t, "the old token on the new email", 400, msgBadToken, tt.new)
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		th := startServer(t, withThunder).ThunderAPI
		th.create(t, "puterr@example.com", userPassword, nil)
		tests := []struct {
			name       string
			query      string
			body       string
			wantStatus int
			wantMsg    string
			wantUser   string
		}{
			{"empty body", "", "", 400, msgNullUser, ""},
			{"null", "", "null", 400, msgNullUser, ""},
			{"no email", "", `{"password":"x"}`, 400, msgNoEmail, ""},
			{"empty address", emailQuery("puterr@example.com"), `{"email":{"address":""}}`, 400, msgNoEmail, ""},
			{"invalid address", emailQuery("puterr@example.com"), `{"email":{"address":"bad@"}}`, 400, msgBadEmail, "bad@"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				th.do(t, "PUT", "/users"+tt.query, tt.body, withPassword(userPassword)).wantThunderError(t, "PUT", tt.wantStatus, tt.wantMsg, tt.wantUser)
			})
		}
	})
}

// setPasswordHash stores pw's hash for the user with email as an import would
// (no policy check), with the parameters Usher runs with in tests, so a
// check of it needs no rehash.
func (s *testServer) setPasswordHash(t testing.TB, email, pw string) {
	t.Helper()
	hash, err := password.NewHasher(cheapHash, password.NewPool(1, 1, time.Second)).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	s.storeHash(t, email, hash)
}

// storeHash writes hash as the password hash of the user with email, as an
// import from another system would.
func (s *testServer) storeHash(t testing.TB, email, hash string) {
	t.Helper()
	u, err := s.Accounts.ReadUser(t.Context(), s.Tenant.ID, account.Access{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Store.Update(t.Context(), func(ctx context.Context, tx account.Tx) error {
		cur, err := tx.LockUser(ctx, s.Tenant.ID, u.ID)
		if err != nil {
			return err
		}
		cur.Hash = hash
		return tx.UpdateUser(ctx, &cur)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// codeKinds returns the kinds of code the user with email has.
func (s *testServer) codeKinds(t testing.TB, email string) []string {
	t.Helper()
	var kinds []string
	rows, err := s.Store.DB().QueryContext(t.Context(), `SELECT c.kind FROM codes c JOIN users u ON u.id = c.user_id
		WHERE u.email_key = $1 ORDER BY c.kind`, strings.ToLower(email))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

// A PUT that sends back the user's own password keeps it, whatever the
// policy says of it: Thunder's suites PUT users whose passwords Usher's
// policy would refuse as new ones.
func TestThunderPutWithTheSamePasswordKeepsIt(t *testing.T) {
	const weak = "abc123" // too short, and common: refused as a new password
	for _, headerCheck := range []bool{true, false} {
		name := "header check on"
		if !headerCheck {
			name = "header check off"
		}
		t.Run(name, func(t *testing.T) {
			s := startServer(t, withThunder, func(m *Main) { m.Config.ThunderHeaderCheck = headerCheck })
			th, pub := s.ThunderAPI, s.PublicAPI
			email := "same@example.com"
			th.create(t, email, userPassword, map[string]any{"plan": "free"})
			s.setPasswordHash(t, email, weak)
			jwt := pub.mustLogin(t, email, weak)
			if res := pub.do(t, "POST", "/password/send", `{"email":"`+email+`"}`); res.Status != http.StatusOK {
				t.Fatalf("POST /password/send: got %s", res)
			}
			sent := th.sendVerification(t, email, weak)
			before := th.get(t, email, weak)

			body := thunderBody(t, email, weak, map[string]any{"plan": "pro"})
			got := th.update(t, email, body, weak).wantThunderUser(t, "PUT with the same password", http.StatusOK)
			if got.Password != before.Password {
				t.Errorf("hash changed: got %q, want %q", got.Password, before.Password)
			}
			if got.token() != sent.token() || got.Props["plan"] != "pro" {
				t.Errorf("after PUT: token %q plan %v; want the pending token %q and plan pro", got.token(), got.Props["plan"], sent.token())
			}
			if res := pub.me(t, jwt); res.Status != http.StatusOK {
				t.Errorf("the session ended: GET /me got %s", res)
			}
			if kinds := s.codeKinds(t, email); strings.Join(kinds, ",") != "reset,verify" {
				t.Errorf("codes after PUT: got %v, want the reset code and the verification token", kinds)
			}

			// Another password is a new password: the policy applies, then
			// sessions and the reset code end; the verification link stays.
			refused := th.update(t, email, thunderBody(t, email, "abc1234", nil), weak)
			refused.wantThunderFormat(t, "PUT with a weak new password", http.StatusBadRequest)
			changed := th.update(t, email, thunderBody(t, email, otherPassword, nil), weak).wantThunderUser(t, "PUT with a new password", http.StatusOK)
			if changed.Password == before.Password || changed.token() != sent.token() {
				t.Errorf("after a new password: hash kept %v, token %q; want a new hash and the token %q", changed.Password == before.Password, changed.token(), sent.token())
			}
			if res := pub.me(t, jwt); res.Status != http.StatusUnauthorized {
				t.Errorf("the session outlived a new password: GET /me got %s", res)
			}
			if kinds := s.codeKinds(t, email); strings.Join(kinds, ",") != "verify" {
				t.Errorf("codes after a new password: got %v, want the verification token only", kinds)
			}
		})
	}
}
