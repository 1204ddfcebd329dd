package main

// The Thunder surface's typed client: Basic auth with the application's
// credentials, the user's password in Thunder's "password" header, one
// method per call, and the Thunder user parser.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// The Thunder application withThunder configures.
const (
	thunderApp    = "app"
	thunderSecret = "secret"
)

// Thunder's messages, as API.md lists them.
const (
	msgNullUser       = "Cannot post a null user."
	msgNoEmail        = "Cannot post a user without an email address."
	msgBadEmail       = "Invalid email address format. Please try again."
	msgBadProperties  = "Cannot post a user with invalid properties."
	msgBadEmailParam  = "Incorrect or missing email query parameter."
	msgBadTokenParam  = "Incorrect or missing verification token query parameter."
	msgBadToken       = "Incorrect verification token."
	msgNotFound       = "User not found in the database."
	msgConflict       = "A user with the same email address already exists."
	msgConflictUpdate = "A user with the new email address already exists."
	msgUnavailable    = "Database is currently unavailable. Please try again later."
	msgNoCredentials  = "Credentials are required to access this resource."
	msgBadCredentials = "Unable to validate user with provided credentials."
	thunderRealm      = `Basic realm="THUNDER - AUTHENTICATION"`
	thunderNotFound   = `{"code":404,"message":"HTTP 404 Not Found"}`
)

// withThunder is the startServer option that turns the Thunder listener on
// with one application.
func withThunder(m *Main) {
	m.Config.ThunderAddr = "127.0.0.1:0"
	m.Config.ThunderApps = []string{thunderApp + ":" + thunderSecret}
}

// thunderClient calls one Thunder listener.
type thunderClient struct {
	base string       // http://host:port
	http *http.Client // plain HTTP, does not follow redirects
}

// withPassword sends the user's password in Thunder's "password" header.
func withPassword(pw string) reqOpt { return header("password", pw) }

// basicAuth replaces the application credentials.
func basicAuth(name, secret string) reqOpt {
	return func(r *http.Request) { r.SetBasicAuth(name, secret) }
}

// noBasicAuth sends no Authorization header.
func noBasicAuth(r *http.Request) { r.Header.Del("Authorization") }

// emailQuery returns "?email=<escaped email>" plus more name=value pairs.
func emailQuery(email string, more ...string) string {
	q := "?email=" + url.QueryEscape(email)
	for i := 0; i+1 < len(more); i += 2 {
		q += "&" + more[i] + "=" + url.QueryEscape(more[i+1])
	}
	return q
}

// do sends a request with the application's Basic credentials unless an
// option removes them.
func (c *thunderClient) do(t testing.TB, method, path, body string, opts ...reqOpt) response {
	t.Helper()
	return doRequest(t, c.http, method, c.base+path, body, append([]reqOpt{basicAuth(thunderApp, thunderSecret)}, opts...)...)
}

// create posts a user, which must answer 201, and returns it.
func (c *thunderClient) create(t testing.TB, email, pw string, props map[string]any) thunderUser {
	t.Helper()
	return c.do(t, "POST", "/users", thunderBody(t, email, pw, props)).wantThunderUser(t, "POST /users "+email, http.StatusCreated)
}

// get reads a user with its password; it must answer 200.
func (c *thunderClient) get(t testing.TB, email, pw string) thunderUser {
	t.Helper()
	return c.do(t, "GET", "/users"+emailQuery(email), "", withPassword(pw)).wantThunderUser(t, "GET /users "+email, http.StatusOK)
}

// update is PUT /users (?email=lookup unless lookup is "") with body.
func (c *thunderClient) update(t testing.TB, lookup, body, pw string) response {
	t.Helper()
	path := "/users"
	if lookup != "" {
		path += emailQuery(lookup)
	}
	return c.do(t, "PUT", path, body, withPassword(pw))
}

// delete is DELETE /users?email=.
func (c *thunderClient) delete(t testing.TB, email, pw string) response {
	t.Helper()
	return c.do(t, "DELETE", "/users"+emailQuery(email), "", withPassword(pw))
}

// sendVerification is POST /verify, which must answer 200; it returns the
// user with its token.
func (c *thunderClient) sendVerification(t testing.TB, email, pw string) thunderUser {
	t.Helper()
	u := c.do(t, "POST", "/verify"+emailQuery(email), "", withPassword(pw)).wantThunderUser(t, "POST /verify "+email, http.StatusOK)
	if u.token() == "" {
		t.Fatalf("POST /verify %s: no verificationToken", email)
	}
	return u
}

// resetVerification is POST /verify/reset.
func (c *thunderClient) resetVerification(t testing.TB, email, pw string) response {
	t.Helper()
	return c.do(t, "POST", "/verify/reset"+emailQuery(email), "", withPassword(pw))
}

// verifyLink is GET /verify (no Basic auth).
func (c *thunderClient) verifyLink(t testing.TB, email, tok, responseType string) response {
	t.Helper()
	q := emailQuery(email, "token", tok)
	if responseType != "" {
		q += "&response_type=" + responseType
	}
	return c.do(t, "GET", "/verify"+q, "", noBasicAuth)
}

// thunderBody is a Thunder user as a client posts it; props go to the top
// level.
func thunderBody(t testing.TB, email, pw string, props map[string]any) string {
	t.Helper()
	m := map[string]any{"email": map[string]any{"address": email}}
	if pw != "" {
		m["password"] = pw
	}
	for k, v := range props {
		m[k] = v
	}
	return mustJSON(t, m)
}

// thunderUser is a Thunder user as the surface renders it.
type thunderUser struct {
	Address           string
	Verified          bool
	VerificationToken *string
	Password          string
	CreationTime      int64
	LastUpdateTime    int64
	Props             map[string]any // the custom properties, at the top level
}

// token returns the verification token, or "" for null.
func (u thunderUser) token() string {
	if u.VerificationToken == nil {
		return ""
	}
	return *u.VerificationToken
}

// parseThunderUser decodes a Thunder user and checks its shape: an email
// object with exactly address, verified and verificationToken; a string
// password; integer epoch-millisecond times; everything else a custom
// property.
func parseThunderUser(t testing.TB, r response) thunderUser {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil {
		t.Fatalf("user is not a JSON object: %v\n%s", err, r.Body)
	}
	var u thunderUser
	var email map[string]json.RawMessage
	if err := json.Unmarshal(top["email"], &email); err != nil || email == nil {
		t.Fatalf("email: got %s, want an object\n%s", top["email"], r.Body)
	}
	if got, want := keys(email), []string{"address", "verificationToken", "verified"}; !cmp.Equal(got, want) {
		t.Errorf("email keys: got %v, want %v", got, want)
	}
	for _, f := range []struct {
		raw json.RawMessage
		dst any
	}{
		{email["address"], &u.Address}, {email["verified"], &u.Verified}, {email["verificationToken"], &u.VerificationToken},
		{top["password"], &u.Password}, {top["creationTime"], &u.CreationTime}, {top["lastUpdateTime"], &u.LastUpdateTime},
	} {
		if f.raw == nil {
			t.Fatalf("user lacks a field: %s", r.Body)
		}
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			t.Fatalf("user field %s: %v\n%s", f.raw, err, r.Body)
		}
	}
	u.Props = map[string]any{}
	for k, v := range top {
		switch k {
		case "email", "password", "creationTime", "lastUpdateTime":
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		u.Props[k] = x
	}
	return u
}

// wantThunderUser checks that r is status with a Thunder user, a request id
// and no-store, and returns the user.
func (r response) wantThunderUser(t testing.TB, what string, status int) thunderUser {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %s, want %d with a user", what, r, status)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID", what)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control: got %q, want no-store", what, got)
	}
	return parseThunderUser(t, r)
}

// emptyUser is the user of wantThunderError for "(User: )": an email
// query parameter given empty, which Thunder echoes.
const emptyUser = "\x00empty"

// wantThunderError checks Thunder's error format: status, plain text,
// exactly "<message> (User: <email or null>)"; user "" is null.
func (r response) wantThunderError(t testing.TB, what string, status int, msg, user string) {
	t.Helper()
	switch user {
	case "":
		user = "null"
	case emptyUser:
		user = ""
	}
	want := msg + " (User: " + user + ")"
	if r.Status != status || string(r.Body) != want {
		t.Errorf("%s: got %d %q, want %d %q", what, r.Status, r.Body, status, want)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: Content-Type: got %q, want text/plain", what, ct)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID", what)
	}
}

// wantThunderFormat checks status and the shape of Thunder's error,
// "<message> (User: <email or null>)", whatever the message.
func (r response) wantThunderFormat(t testing.TB, what string, status int) {
	t.Helper()
	body := string(r.Body)
	i := strings.LastIndex(body, " (User: ")
	if r.Status != status || i <= 0 || !strings.HasSuffix(body, ")") {
		t.Errorf("%s: got %d %q, want %d \"<message> (User: <email or null>)\"", what, r.Status, body, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: Content-Type: got %q, want text/plain", what, ct)
	}
}

// wantVerified checks a successful GET /verify on either listener.
func (r response) wantVerified(t testing.TB, what, responseType string) {
	t.Helper()
	switch {
	case strings.EqualFold(responseType, "html"):
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/verify/success" {
			t.Errorf("%s: got %s Location %q, want 303 to /verify/success", what, r, r.Header.Get("Location"))
		}
	case r.Status != http.StatusOK:
		t.Errorf("%s: got %s, want 200", what, r)
	}
}

// wantSuccessPage checks GET /verify/success's answer: HTML whose div > div
// text is Thunder's.
func (r response) wantSuccessPage(t testing.TB) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("got %s, want 200", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type: got %q, want text/html", ct)
	}
	const want = "Success! Your account has been verified."
	if got := innerDivText(t, r.Body); len(got) != 1 || got[0] != want {
		t.Errorf("text of div > div: got %q, want [%q]\n%s", got, want, r.Body)
	}
}

// innerDivText returns the text of each div element whose parent is a
// div, as a browser's textContent, with white space collapsed.
func innerDivText(t testing.TB, page []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
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

// jsonEqualDiff compares want and got by their indented JSON encoding (map
// keys sorted), so deeply nested custom data compares in linear time; it
// returns a line diff, or "" when they are equal.
func jsonEqualDiff(t testing.TB, want, got any) string {
	t.Helper()
	w, err := json.MarshalIndent(want, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	g, err := json.MarshalIndent(got, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w, g) {
		return ""
	}
	return cmp.Diff(string(w), string(g))
}

// asJSON turns props into what JSON decoding gives back (numbers as
// float64), for comparison with thunderUser.Props.
func asJSON(t testing.TB, props map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	if len(props) == 0 {
		return out
	}
	b, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// customProps is asJSON without Thunder's own top-level fields.
func customProps(t testing.TB, props map[string]any) map[string]any {
	t.Helper()
	out := asJSON(t, props)
	for _, k := range []string{"email", "password", "creationTime", "lastUpdateTime"} {
		delete(out, k)
	}
	return out
}

// nestedValue returns a JSON value nested depth levels deep.
func nestedValue(depth int) any {
	var v any = "leaf"
	for range depth {
		v = []any{v}
	}
	return v
}

// flipLast changes the last character of s to another URL-safe one.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}
