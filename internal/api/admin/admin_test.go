package admin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/api/admin"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
)

const (
	adminEmail    = "ops@example.com"
	adminPassword = "console-Secret-7731"
)

// env is the console over a real Service on a real SQLite file, served by
// httptest, with a browser-like client (a cookie jar, no redirects
// followed).
type env struct {
	*accounttest.Env
	srv  *httptest.Server
	http *http.Client
	csrf string
}

type keys struct{ e *accounttest.Env }

func (k keys) List(ctx context.Context) ([]admin.Key, error) {
	ks, err := k.e.Store.SigningKeys(ctx)
	out := make([]admin.Key, len(ks))
	for i, x := range ks {
		out[i] = admin.Key{KID: x.KID, CreatedAt: x.CreatedAt, RetiredAt: x.RetiredAt}
	}
	return out, err
}

func (k keys) Rotate(ctx context.Context) (string, error) {
	return k.e.Keys.Rotate(ctx, k.e.Clock.Now())
}

func newEnv(t *testing.T, opts ...func(*admin.Config)) *env {
	t.Helper()
	return newEnvAccount(t, nil, opts...)
}

// newEnvAccount is newEnv with a change to the Service's config.
func newEnvAccount(t *testing.T, acc func(*account.Config), opts ...func(*admin.Config)) *env {
	t.Helper()
	e := &env{Env: accounttest.New(t, func(c *account.Config) {
		c.Lockout.Max = 5
		if acc != nil {
			acc(c)
		}
	})}
	cfg := admin.Config{Accounts: e.Service, Transfer: &transfer.Transfer{Accounts: e.Service}, Keys: keys{e.Env},
		Pool: func() admin.PoolLoad { return admin.PoolLoad{Workers: 2} }, InstallToken: "install-token-for-tests", Now: e.Clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	con, err := admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := con.Surface().Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	e.http = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if cfg.Secure {
		e.srv = httptest.NewTLSServer(h)
		e.http.Transport = e.srv.Client().Transport
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

type resp struct {
	Status int
	Header http.Header
	Body   string
}

func (e *env) do(t *testing.T, req *http.Request) resp {
	t.Helper()
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func (e *env) get(t *testing.T, path string) resp {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	r := e.do(t, req)
	if m := csrfField.FindStringSubmatch(r.Body); m != nil {
		e.csrf = m[1]
	}
	return r
}

var (
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	preField  = regexp.MustCompile(`name="pre" value="([^"]+)"`)
)

// post sends a form as the console's page would: same origin, with the
// session's CSRF token unless form sets its own.
func (e *env) post(t *testing.T, path string, form url.Values, hdr ...string) resp {
	t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", e.csrf)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(t, req)
}

// signIn creates the first admin with the install link and signs in.
func (e *env) signIn(t *testing.T) {
	t.Helper()
	page := e.get(t, "/install?token=install-token-for-tests")
	pre := preField.FindStringSubmatch(page.Body)
	if page.Status != 200 || pre == nil {
		t.Fatalf("install page: %d", page.Status)
	}
	r := e.post(t, "/install", url.Values{"pre": {pre[1]}, "token": {"install-token-for-tests"}, "email": {adminEmail}, "password": {adminPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("install: %d %s", r.Status, r.Body)
	}
	page = e.get(t, "/login")
	pre = preField.FindStringSubmatch(page.Body)
	r = e.post(t, "/login", url.Values{"pre": {pre[1]}, "email": {adminEmail}, "password": {adminPassword}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/users" {
		t.Fatalf("sign-in: %d %s", r.Status, r.Header.Get("Location"))
	}
	e.get(t, "/users")
}

func TestHeadersAndSignInRequired(t *testing.T) {
	e := newEnv(t)
	r := e.get(t, "/users")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("GET /users without a session: %d %q, want 303 to /login", r.Status, r.Header.Get("Location"))
	}
	r = e.get(t, "/login")
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(r.Body, " style=") || strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, "onclick") {
		t.Error("the page has inline style or script")
	}
}

func TestSignInCookieAndWrongPassword(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.Secure = true })
	page := e.get(t, "/install?token=wrong")
	if page.Status != http.StatusBadRequest {
		t.Fatalf("install with a wrong token: %d, want 400", page.Status)
	}
	if _, err := e.Service.CreateFirstAdmin(t.Context(), adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	page = e.get(t, "/install?token=install-token-for-tests")
	if page.Status != http.StatusBadRequest {
		t.Fatalf("install once an admin exists: %d, want 400", page.Status)
	}
	page = e.get(t, "/login")
	pre := preField.FindStringSubmatch(page.Body)[1]
	r := e.post(t, "/login", url.Values{"pre": {"forged"}, "email": {adminEmail}, "password": {adminPassword}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("sign-in without the pre-session token: %d, want 403", r.Status)
	}
	r = e.post(t, "/login", url.Values{"pre": {pre}, "email": {adminEmail}, "password": {"wrong-password-123"}})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Invalid email, password or code.") {
		t.Fatalf("wrong password: %d", r.Status)
	}
	if strings.Contains(r.Header.Get("Set-Cookie"), "usher_admin=") {
		t.Fatal("a wrong password set a session cookie")
	}
	r = e.post(t, "/login", url.Values{"pre": {pre}, "email": {adminEmail}, "password": {adminPassword}})
	cookie := r.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-usher_admin=", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %q", cookie, want)
		}
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "a@example.com", Password: "first-Secret-8451", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	path := "/users/" + u.ID + "/enabled"
	cases := map[string]struct {
		form url.Values
		hdr  []string
	}{
		"wrong token":   {url.Values{"csrf": {"forged"}, "enabled": {"false"}}, nil},
		"no token":      {url.Values{"csrf": {""}, "enabled": {"false"}}, nil},
		"other origin":  {url.Values{"enabled": {"false"}}, []string{"Origin", "https://evil.example"}},
		"cross-site":    {url.Values{"enabled": {"false"}}, []string{"Sec-Fetch-Site", "cross-site"}},
		"null origin":   {url.Values{"enabled": {"false"}}, []string{"Origin", "null"}},
		"same-site sub": {url.Values{"enabled": {"false"}}, []string{"Sec-Fetch-Site", "same-site"}},
	}
	for name, tc := range cases {
		r := e.post(t, path, tc.form, tc.hdr...)
		if r.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.Status)
		}
	}
	if got, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID); !got.Enabled {
		t.Fatal("a refused request disabled the user")
	}
	if r := e.post(t, path, url.Values{"enabled": {"false"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("with the token: %d", r.Status)
	}
	if got, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID); got.Enabled {
		t.Fatal("not disabled")
	}
	evs, _ := e.Service.Events(t.Context(), e.Tenant.ID, account.EventQuery{UserID: u.ID, Types: []string{account.AuditUserDisabled}})
	if len(evs.Events) != 1 || !strings.HasPrefix(evs.Events[0].Actor, "admin:") {
		t.Fatalf("audit of the disable: %+v", evs.Events)
	}
}

func TestUsersSearchAndPaging(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	var lines bytes.Buffer
	for i := range 120 {
		lines.WriteString(`{"email":"user` + string(rune('a'+i%26)) + `-` + itoa(i) + `@example.com","password":"first-Secret-8451"}` + "\n")
	}
	if _, err := (&transfer.Transfer{Accounts: e.Service}).Import(t.Context(), e.Tenant.ID, &lines, account.ImportOptions{OnConflict: account.ConflictSkip}, func(account.ImportResult) {}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/users")
	if !strings.Contains(r.Body, `id="user-count">120 in all`) || strings.Count(r.Body, `<tr><td><a href="/users/`) != 50 {
		t.Fatalf("first page: count or rows wrong")
	}
	next := regexp.MustCompile(`href="(/users\?[^"]+)" id="next-page"`).FindStringSubmatch(r.Body)
	if next == nil {
		t.Fatal("no next page link")
	}
	r = e.get(t, strings.ReplaceAll(next[1], "&amp;", "&"))
	if r.Status != 200 || strings.Count(r.Body, `<tr><td><a href="/users/`) != 50 || !strings.Contains(r.Body, "120 in all") {
		t.Fatalf("second page: %d", r.Status)
	}
	r = e.get(t, "/users?q=usera-&enabled=yes")
	if !strings.Contains(r.Body, "5 matching") { // 0, 26, 52, 78, 104
		t.Fatalf("search: want 5 matching")
	}
	r = e.get(t, "/users?enabled=maybe")
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "yes, no or empty") {
		t.Fatalf("bad filter: %d", r.Status)
	}
	r = e.get(t, "/users?cursor=garbage")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", r.Status)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDataEditorAndDelete(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "a@example.com", Password: "first-Secret-8451", Enabled: true, Data: []byte(`{"plan":"free"}`)})
	if err != nil {
		t.Fatal(err)
	}
	base := "/users/" + u.ID
	r := e.get(t, base)
	if !strings.Contains(r.Body, "&#34;plan&#34;: &#34;free&#34;") {
		t.Fatalf("the data is not shown formatted:\n%s", r.Body)
	}
	for name, bad := range map[string]string{
		"not JSON":  `{"plan": `,
		"an array":  `[1, 2]`,
		"too large": `{"x":"` + strings.Repeat("a", 70<<10) + `"}`,
		"too deep":  strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40),
	} {
		r := e.post(t, base+"/data", url.Values{"data": {bad}})
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `id="data-error">Not saved:`) {
			t.Errorf("%s: %d, want 400 with the refusal shown", name, r.Status)
		}
	}
	if got, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID); string(got.Data) != `{"plan":"free"}` {
		t.Fatalf("refused data changed the user: %s", got.Data)
	}
	if r := e.post(t, base+"/data", url.Values{"data": {`{"plan": "pro", "seats": 3}`}}); r.Status != http.StatusSeeOther {
		t.Fatalf("valid data: %d", r.Status)
	}
	if got, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID); string(got.Data) != `{"plan":"pro","seats":3}` {
		t.Fatalf("data: %s", got.Data)
	}
	r = e.post(t, base+"/delete", url.Values{"confirm": {"someone@example.com"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete with a wrong confirmation: %d", r.Status)
	}
	if _, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID); err != nil {
		t.Fatal("deleted without the right confirmation")
	}
	e.get(t, base) // the flash
	if r := e.post(t, base+"/delete", url.Values{"confirm": {"a@example.com"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.Status)
	}
	if _, err := e.Service.User(t.Context(), e.Tenant.ID, u.ID); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("after delete: %v", err)
	}
	if r := e.get(t, base); r.Status != http.StatusNotFound {
		t.Fatalf("page of a deleted user: %d", r.Status)
	}
}

func TestImportWithABadLineAndExport(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", e.csrf)
	_ = mw.WriteField("on_conflict", "skip")
	fw, _ := mw.CreateFormFile("file", "users.jsonl")
	io.WriteString(fw, `{"email":"one@example.com","password":"first-Secret-8451"}`+"\n"+`{"email":"not an email"}`+"\n"+`{"email":"two@example.com","password":"first-Secret-8451"}`+"\n")
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Accept", "application/json")
	r := e.do(t, req)
	if r.Status != 200 || !strings.Contains(r.Body, `"created":2`) || !strings.Contains(r.Body, `"refused":[{"line":2,`) {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	r = e.get(t, "/export")
	if r.Status != 200 || strings.Count(r.Body, "\n") != 2 || !strings.Contains(r.Body, "one@example.com") ||
		!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") || strings.Contains(r.Body, "argon2") {
		t.Fatalf("export: %d %q %s", r.Status, r.Header.Get("Content-Disposition"), r.Body)
	}
}

func TestTenantsKeysEmailActivity(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	if r := e.post(t, "/tenants", url.Values{"name": {"shop"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create tenant: %d", r.Status)
	}
	shop, err := e.Service.Tenant(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.post(t, "/tenants/"+shop.ID+"/rotate", url.Values{"overlap": {"1h"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("rotate: %d", r.Status)
	}
	if got, _ := e.Service.Tenant(t.Context(), shop.ID); got.PublicKey == shop.PublicKey || got.PreviousKey != shop.PublicKey {
		t.Fatal("the key did not rotate")
	}
	e.post(t, "/tenants/"+shop.ID+"/delete", url.Values{"confirm": {"shp"}})
	if _, err := e.Service.Tenant(t.Context(), shop.ID); err != nil {
		t.Fatal("deleted without the right confirmation")
	}
	e.post(t, "/tenants/"+shop.ID+"/delete", url.Values{"confirm": {"shop"}})
	if _, err := e.Service.Tenant(t.Context(), shop.ID); usher.ErrorCode(err) != usher.NotFound {
		t.Fatalf("after delete: %v", err)
	}
	before, _ := e.Store.SigningKeys(t.Context())
	if r := e.post(t, "/keys/rotate", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("rotate key: %d", r.Status)
	}
	after, _ := e.Store.SigningKeys(t.Context())
	if len(after) != len(before)+1 {
		t.Fatalf("keys: %d before, %d after", len(before), len(after))
	}
	if r := e.get(t, "/keys"); !strings.Contains(r.Body, after[len(after)-1].KID) || !strings.Contains(r.Body, "signing") {
		t.Fatal("the keys page does not show the new key")
	}
	u, _ := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "a@example.com", Password: "first-Secret-8451", Enabled: true})
	if err := e.Service.SendVerification(t.Context(), e.Tenant.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/email?state=pending")
	id := regexp.MustCompile(`action="/email/([^/]+)/retry`).FindStringSubmatch(r.Body)
	if id == nil {
		t.Fatalf("no pending message listed")
	}
	if r := e.post(t, "/email/"+id[1]+"/retry", url.Values{"state": {"pending"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("retry: %d", r.Status)
	}
	if r := e.post(t, "/email/"+id[1]+"/discard", url.Values{"state": {"pending"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("discard: %d", r.Status)
	}
	if ms, _ := e.Service.QueuedMessages(t.Context(), e.Tenant.ID, usher.QueuePending); len(ms) != 0 {
		t.Fatalf("after discard: %d pending", len(ms))
	}
	r = e.get(t, "/activity")
	if r.Status != 200 || !strings.Contains(r.Body, "Registrations and new users: <strong>1</strong>") || !strings.Contains(r.Body, "<rect") {
		t.Fatalf("activity: %d", r.Status)
	}
	if r := e.get(t, "/activity?range=days"); r.Status != 200 {
		t.Fatalf("activity per day: %d", r.Status)
	}
}

func TestSetupLinkAndRequiredTOTP(t *testing.T) {
	e := newEnv(t)
	_, raw, err := e.Service.CreateAdmin(t.Context(), adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/setup?token=wrong"); r.Status != http.StatusBadRequest {
		t.Fatalf("a wrong setup link: %d, want 400", r.Status)
	}
	page := e.get(t, "/setup?token="+url.QueryEscape(raw))
	if page.Status != 200 || !strings.Contains(page.Body, adminEmail) {
		t.Fatalf("setup page: %d", page.Status)
	}
	pre := preField.FindStringSubmatch(page.Body)[1]
	r := e.post(t, "/setup", url.Values{"pre": {pre}, "token": {raw}, "password": {"short"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `role="alert"`) {
		t.Fatalf("a short password: %d", r.Status)
	}
	if r := e.post(t, "/setup", url.Values{"pre": {pre}, "token": {raw}, "password": {adminPassword}}); r.Status != http.StatusSeeOther {
		t.Fatalf("setup: %d", r.Status)
	}
	if r := e.post(t, "/setup", url.Values{"pre": {pre}, "token": {raw}, "password": {adminPassword}}); r.Status != http.StatusBadRequest {
		t.Fatalf("the setup link again: %d, want 400", r.Status)
	}

}

func TestRequiredTOTP(t *testing.T) {
	e := newEnvAccount(t, func(c *account.Config) { c.Admin.RequireTOTP = true })
	page := e.get(t, "/install?token=install-token-for-tests")
	pre := preField.FindStringSubmatch(page.Body)[1]
	e.post(t, "/install", url.Values{"pre": {pre}, "token": {"install-token-for-tests"}, "email": {adminEmail}, "password": {adminPassword}})
	r := e.post(t, "/login", url.Values{"pre": {pre}, "email": {adminEmail}, "password": {adminPassword}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		t.Fatalf("sign-in without TOTP: %d to %q, want /account", r.Status, r.Header.Get("Location"))
	}
	if r := e.get(t, "/users"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		t.Fatalf("/users without TOTP: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := e.get(t, "/account"); r.Status != 200 || !strings.Contains(r.Body, "requires two-factor") {
		t.Fatalf("/account: %d", r.Status)
	}
	if r := e.post(t, "/keys/rotate", url.Values{}); r.Status != http.StatusForbidden {
		t.Fatalf("a change without TOTP: %d, want 403", r.Status)
	}
	// The password again: a session alone cannot put a second factor on
	// the account; a wrong one changes nothing.
	for _, pw := range []string{"", "not-the-password-1234"} {
		r = e.post(t, "/account/totp", url.Values{"password": {pw}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("enrol with password %q: %d to %q, want 303 to /account", pw, r.Status, r.Header.Get("Location"))
		}
		if page := e.get(t, "/account"); !strings.Contains(page.Body, "The password is not right.") || strings.Contains(page.Body, "totp-secret") {
			t.Fatalf("enrol with password %q: the account page shows no refusal, or a secret", pw)
		}
	}
	r = e.post(t, "/account/totp", url.Values{"password": {adminPassword}})
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(r.Body)
	if r.Status != 200 || secret == nil {
		t.Fatalf("enrol: %d", r.Status)
	}
	code, _ := otptotp.GenerateCode(secret[1], e.Clock.Now())
	if r := e.post(t, "/account/totp/confirm", url.Values{"code": {code}}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("confirm: %d to %q", r.Status, r.Header.Get("Location"))
	}
	e.Clock.Advance(30 * time.Second)
	code, _ = otptotp.GenerateCode(secret[1], e.Clock.Now())
	r = e.post(t, "/login", url.Values{"pre": {pre}, "email": {adminEmail}, "password": {adminPassword}, "code": {code}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/users" {
		t.Fatalf("sign-in with a code: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := e.get(t, "/users"); r.Status != 200 {
		t.Fatalf("/users with TOTP: %d", r.Status)
	}
}

// An admin who has not yet turned on a required second factor can still
// sign out: the session must not outlive the admin's wish to end it.
func TestSignOutWithoutRequiredTOTP(t *testing.T) {
	e := newEnvAccount(t, func(c *account.Config) { c.Admin.RequireTOTP = true })
	page := e.get(t, "/install?token=install-token-for-tests")
	pre := preField.FindStringSubmatch(page.Body)[1]
	e.post(t, "/install", url.Values{"pre": {pre}, "token": {"install-token-for-tests"}, "email": {adminEmail}, "password": {adminPassword}})
	if r := e.post(t, "/login", url.Values{"pre": {pre}, "email": {adminEmail}, "password": {adminPassword}}); r.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.Status)
	}
	if r := e.get(t, "/account"); r.Status != 200 || !strings.Contains(r.Body, `action="/logout"`) {
		t.Fatalf("/account: %d, or no sign-out form", r.Status)
	}
	if r := e.post(t, "/logout", url.Values{}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("sign-out without TOTP: %d to %q, want 303 to /login", r.Status, r.Header.Get("Location"))
	}
	if r := e.get(t, "/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("/account after sign-out: %d to %q, want 303 to /login", r.Status, r.Header.Get("Location"))
	}
}

// Behind a TLS proxy the browser's origin is the proxy's (Config.Origin),
// which need not match the listener's scheme or the Host the proxy sends:
// state changes from it are accepted, from any other origin refused.
func TestOriginBehindAProxy(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.Origin = "https://console.example.com" })
	e.signIn(t)
	u, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: "p@example.com", Password: "first-Secret-8451", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	path := "/users/" + u.ID + "/enabled?t=" + e.Tenant.ID
	if r := e.post(t, path, url.Values{"enabled": {"false"}}, "Origin", "https://evil.example.com"); r.Status != http.StatusForbidden {
		t.Fatalf("another origin: %d, want 403", r.Status)
	}
	if r := e.post(t, path, url.Values{"enabled": {"false"}}, "Origin", "https://console.example.com"); r.Status != http.StatusSeeOther {
		t.Fatalf("the proxy's origin: %d, want 303", r.Status)
	}
	if got, _ := e.Service.User(t.Context(), e.Tenant.ID, u.ID); got.Enabled {
		t.Fatal("not disabled")
	}
}

// The setup and install pages check their link in the store (a write
// transaction for the setup link): unauthenticated, they are rate limited
// per client like the posts, so nobody can flood the store through them.
func TestSetupAndInstallPagesRateLimited(t *testing.T) {
	e := newEnv(t, func(c *admin.Config) { c.RateAuth = 3 })
	for _, path := range []string{"/setup?token=guess", "/install?token=guess", "/setup?token=guess"} {
		if r := e.get(t, path); r.Status != http.StatusBadRequest {
			t.Fatalf("GET %s: %d, want 400", path, r.Status)
		}
	}
	for _, path := range []string{"/setup?token=guess", "/install?token=guess"} {
		if r := e.get(t, path); r.Status != http.StatusTooManyRequests {
			t.Fatalf("GET %s over the limit: %d, want 429", path, r.Status)
		}
	}
}

// A console export hands every user's address and data to a browser: the
// tenant's audit log records who took it and how many users it held.
func TestExportAudited(t *testing.T) {
	e := newEnv(t)
	e.signIn(t)
	for _, m := range []string{"x1@example.com", "x2@example.com"} {
		if _, err := e.Service.Create(t.Context(), e.Tenant.ID, account.NewUser{Email: m, Password: "first-Secret-8451", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.get(t, "/export?t="+e.Tenant.ID); r.Status != 200 || strings.Count(r.Body, "\n") != 2 {
		t.Fatalf("export: %d", r.Status)
	}
	evs, err := e.Service.Events(t.Context(), e.Tenant.ID, account.EventQuery{Types: []string{account.AuditUserExported}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 || !strings.HasPrefix(evs.Events[0].Actor, "admin:") || !strings.Contains(string(evs.Events[0].Detail), `"count":2`) {
		t.Fatalf("audit of the export: %+v", evs.Events)
	}
}
