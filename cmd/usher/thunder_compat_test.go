package main

// End-to-end tests of what Thunder's own test suites expect of the Thunder
// surface beyond its documents (issue 12, part 4).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/password"
)

// thSetPassword stores pw's hash for the user with email as an import would
// (no policy check), with the parameters Usher runs with in tests, so a
// check of it needs no rehash.
func thSetPassword(t testing.TB, a *thAPI, email, pw string) {
	t.Helper()
	hash, err := password.NewHasher(cheapHash, password.NewPool(1, 1, time.Second)).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.s.Accounts.ReadUser(t.Context(), a.s.Tenant.ID, account.Access{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	err = a.s.Store.Update(t.Context(), func(ctx context.Context, tx account.Tx) error {
		cur, err := tx.LockUser(ctx, a.s.Tenant.ID, u.ID)
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

// thCodeKinds returns the kinds of code the user with email has.
func thCodeKinds(t testing.TB, a *thAPI, email string) []string {
	t.Helper()
	var kinds []string
	rows, err := a.s.Store.DB().QueryContext(t.Context(), `SELECT c.kind FROM codes c JOIN users u ON u.id = c.user_id
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
			a := thStart(t, func(m *Main) { m.Config.ThunderHeaderCheck = headerCheck })
			email := "same@example.com"
			a.create(t, email, thPassword, map[string]any{"plan": "free"})
			thSetPassword(t, a, email, weak)
			jwt := a.login(t, email, weak)
			if res := a.public(t, "POST", "/password/send", `{"email":"`+email+`"}`, ""); res.Status != http.StatusOK {
				t.Fatalf("POST /password/send: got %s", res)
			}
			sent := a.sendVerification(t, email, weak)
			before := a.get(t, email, weak)

			body := thUserBody(t, email, weak, map[string]any{"plan": "pro"})
			got := thWantUser(t, "PUT with the same password", a.do(t, "PUT", "/users"+thQ(email), body, thPW(weak)), http.StatusOK)
			if got.Password != before.Password {
				t.Errorf("hash changed: got %q, want %q", got.Password, before.Password)
			}
			if got.token() != sent.token() || got.Props["plan"] != "pro" {
				t.Errorf("after PUT: token %q plan %v; want the pending token %q and plan pro", got.token(), got.Props["plan"], sent.token())
			}
			if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusOK {
				t.Errorf("the session ended: GET /me got %s", res)
			}
			if kinds := thCodeKinds(t, a, email); strings.Join(kinds, ",") != "reset,verify" {
				t.Errorf("codes after PUT: got %v, want the reset code and the verification token", kinds)
			}

			// Another password is a new password: the policy applies, then
			// sessions and the reset code end; the verification link stays.
			refused := a.do(t, "PUT", "/users"+thQ(email), thUserBody(t, email, "abc1234", nil), thPW(weak))
			thWantThunderFormat(t, "PUT with a weak new password", refused, http.StatusBadRequest)
			changed := thWantUser(t, "PUT with a new password",
				a.do(t, "PUT", "/users"+thQ(email), thUserBody(t, email, thOtherPW, nil), thPW(weak)), http.StatusOK)
			if changed.Password == before.Password || changed.token() != sent.token() {
				t.Errorf("after a new password: hash kept %v, token %q; want a new hash and the token %q", changed.Password == before.Password, changed.token(), sent.token())
			}
			if res := a.public(t, "GET", "/me", "", jwt); res.Status != http.StatusUnauthorized {
				t.Errorf("the session outlived a new password: GET /me got %s", res)
			}
			if kinds := thCodeKinds(t, a, email); strings.Join(kinds, ",") != "verify" {
				t.Errorf("codes after a new password: got %v, want the verification token only", kinds)
			}
		})
	}
}

// POST /verify writes the new token into the user, as Thunder does: the
// user is unverified until the link is opened, and lastUpdateTime moves.
func TestThunderSendVerificationUnverifies(t *testing.T) {
	clock := thNewClock()
	a := thStart(t, func(m *Main) { m.Now = clock.Now })
	email := "again@example.com"
	created := a.create(t, email, thPassword, nil)
	first := a.sendVerification(t, email, thPassword)
	thWantVerified(t, "first link", a.verifyLink(t, email, first.token(), "json"), "json")

	clock.Advance(3 * time.Second)
	second := a.sendVerification(t, email, thPassword)
	if second.Verified {
		t.Error("POST /verify left the user verified; Thunder marks it unverified until the link is opened")
	}
	if want := created.CreationTime + 3000; second.LastUpdateTime != want {
		t.Errorf("lastUpdateTime: got %d, want %d (the time of POST /verify)", second.LastUpdateTime, want)
	}
	if got := a.get(t, email, thPassword); got.Verified || got.token() != second.token() {
		t.Errorf("GET after POST /verify: verified %v token %q; want false %q", got.Verified, got.token(), second.token())
	}
	thWantError(t, "the first link", a.verifyLink(t, email, first.token(), "json"), http.StatusBadRequest, thMsgBadToken, email)
	thWantVerified(t, "the second link", a.verifyLink(t, email, second.token(), "json"), "json")
}

// The success page has Thunder's markup: Thunder's suites read the text of
// its div > div element.
func TestVerifySuccessPageMarkup(t *testing.T) {
	a := thStart(t)
	for _, base := range []string{a.base, a.s.Public} {
		res := thDo(t, a.client, "GET", base+"/verify/success", "")
		thWantSuccessPage(t, res)
	}
}

// thInnerDivText returns the text of each div element whose parent is a
// div, as a browser's textContent, with white space collapsed.
func thInnerDivText(t testing.TB, page []byte) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var text func(*html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "div" && n.Parent != nil && n.Parent.Type == html.ElementNode && n.Parent.Data == "div" {
			texts = append(texts, strings.Join(strings.Fields(text(n)), " "))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return texts
}
