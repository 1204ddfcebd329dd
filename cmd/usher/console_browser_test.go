package main

// The admin console end to end, in a real browser: Debian's Chromium,
// driven by chromedp, against a real `usher serve` child process. One
// browser, one server, the scenarios in sequence. The run also takes the
// screenshots of the README's Console section (docs/screenshots).

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	otptotp "github.com/pquerna/otp/totp"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

const chromiumPath = "/usr/bin/chromium"

// browser drives one tab; every step fails the test on error.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// chromiumAllocator starts nothing yet: it gives the context from which
// chromedp starts Debian's Chromium (apt-get install chromium; nothing is
// downloaded) headless, with a fresh profile and the flags this machine
// needs. Without Chromium the test skips, except in CI (CI=true), where it
// fails.
func chromiumAllocator(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required in CI (apt-get install chromium): %v", err)
		}
		t.Skipf("no %s (apt-get install chromium): the browser tests skip outside CI", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return actx
}

// newBrowser starts headless Chromium with a fresh profile. Without
// Chromium the test skips, except in CI (CI=true), where it fails.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	actx := chromiumAllocator(t)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	// The first action starts the browser on ctx itself: a context derived
	// from it (a step's timeout) would stop the browser when cancelled.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// stepTimeout bounds one step, so a wait that cannot succeed fails with
// the page it was on.
const stepTimeout = 30 * time.Second

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("browser: %v (at %s); the page says:\n%s", err, b.location(), body)
	}
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v (at %s)", sel, err, b.location())
	}
	return s
}

func evalIn[T any](b *browser, js string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		b.t.Fatalf("browser: evaluating %q: %v (at %s)", js, err, b.location())
	}
	return v
}

// submit clicks a button and waits for the next page's element: the
// current document is marked first, so an element of the old page cannot
// answer the wait.
func (b *browser) submit(button, next string) {
	b.t.Helper()
	evalIn[bool](b, `document.body.dataset.stale = "1"; true`)
	b.do(chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS("body:not([data-stale]) "+next)))
}

// fill replaces an input's value with keystrokes.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	evalIn[bool](b, fmt.Sprintf(`document.querySelector(%q).value = ""; true`, sel))
	b.do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// shot takes a screenshot of the viewport. With USHER_UPDATE_SCREENSHOTS=1
// it replaces the README's image in docs/screenshots; otherwise it goes to
// the test's temporary directory, so that a test run leaves the tree as it
// found it.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil || len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s: %d bytes, %v", name, len(png), err)
	}
	dir := b.t.TempDir()
	if os.Getenv("USHER_UPDATE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "..", "docs", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func TestConsoleInBrowser(t *testing.T) {
	b := newBrowser(t)
	var out syncBuffer
	var args []string
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		args = append(args, "--db", pgtest.DSN(t))
	}
	p := startChild(t, childOpts{Stdout: &out, Args: args})
	if p.Admin == "" {
		t.Fatal("no admin listener")
	}
	install := regexp.MustCompile(`http://[^\s]+/install\?token=[A-Z0-9]+`)
	var link string
	for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		link = install.FindString(out.String())
	}
	if link == "" {
		t.Fatalf("no install link in the start-up hints:\n%s", out.String())
	}
	const email, pw = "ops@example.com", "console-Secret-7731"

	// First-admin setup through the install link.
	b.do(chromedp.Navigate(link))
	b.fill("#email", email)
	b.fill("#password", pw)
	b.submit("#save-password", "#sign-in")
	if got := b.text(".flash.ok"); !strings.Contains(got, "first admin is created") {
		t.Fatalf("after install: %q", got)
	}
	b.shot("login")

	// A wrong password, then the right one.
	b.fill("#email", email)
	b.fill("#password", "not-the-password-1")
	b.submit("#sign-in", "#login-error")
	if got := b.text("#login-error"); got != "Invalid email, password or code." {
		t.Fatalf("wrong password: %q", got)
	}
	b.fill("#password", pw)
	b.submit("#sign-in", "#users")

	// Seed a few thousand users with the import, one line of which is bad.
	const seeded = 3000
	hasher := password.NewHasher(cheapHash, password.NewPool(1, 4, time.Minute))
	hash, err := hasher.Hash(context.Background(), "seeded-Secret-4410")
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range seeded {
		if i == 1500 {
			lines.WriteString(`{"email":"not an address","password_hash":"` + hash + `"}` + "\n")
		}
		fmt.Fprintf(&lines, `{"email":"user-%05d@example.com","password_hash":%q,"data":{"n":%d}}`+"\n", i, hash, i)
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(chromedp.CSS(`nav a[href^="/import"]`)), chromedp.WaitVisible(chromedp.CSS("#import-form")))
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}), chromedp.Click(chromedp.CSS("#import")),
		chromedp.WaitVisible(chromedp.CSS("#import-summary")))
	if got := b.text("#import-summary"); got != fmt.Sprintf("Created %d, updated 0, skipped 0, refused 1.", seeded) {
		t.Fatalf("import summary: %q", got)
	}
	if got := b.text("#refused tbody"); !strings.Contains(got, "1501") {
		t.Fatalf("refused lines: %q, want line 1501", got)
	}
	if v := evalIn[float64](b, `document.getElementById("import-progress").value`); v != 100 {
		t.Fatalf("progress bar at %v after the import", v)
	}
	b.shot("import")

	// Search and paging over the seeded users.
	b.do(chromedp.Navigate(p.Admin + "/users"))
	if got := b.text("#user-count"); got != fmt.Sprintf("%d in all", seeded) {
		t.Fatalf("count: %q", got)
	}
	rows := `Array.from(document.querySelectorAll("#users tbody a")).map(a => a.textContent)`
	first := evalIn[[]string](b, rows)
	b.submit("#next-page", "#users")
	second := evalIn[[]string](b, rows)
	if len(first) != 50 || len(second) != 50 || first[0] == second[0] {
		t.Fatalf("pages: %d and %d rows, first rows %q / %q", len(first), len(second), first[0], second[0])
	}
	seen := map[string]bool{}
	for _, e := range append(first, second...) {
		if seen[e] {
			t.Fatalf("%s on both pages", e)
		}
		seen[e] = true
	}
	b.submit("#first-page", "#users")
	b.fill("#q", "user-0123")
	b.submit("#search", "#users")
	if got := b.text("#user-count"); got != "10 matching" {
		t.Fatalf("search count: %q", got)
	}
	b.shot("users")

	// At 375 px the page is readable without sideways scrolling.
	b.do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	b.do(chromedp.Navigate(p.Admin + "/users?q=user-0123"))
	if w := evalIn[int](b, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("the users page is %d px wide at 375 px", w)
	}
	b.shot("users-mobile")
	b.do(chromedp.EmulateViewport(1280, 900))

	// A user: edit the data (invalid, then valid), disable, delete.
	b.do(chromedp.Navigate(p.Admin + "/users?q=user-01234%40"))
	b.submit(`#users tbody a`, "#user-email")
	if got := b.text("#user-email"); got != "user-01234@example.com" {
		t.Fatalf("user page of %q", got)
	}
	b.fill("#data", `{"plan": "pro",`)
	if got := b.text("#data-check"); !strings.HasPrefix(got, "Not valid JSON") {
		t.Errorf("the editor's own check: %q", got)
	}
	b.submit("#save-data", "#data-error")
	if got := b.text("#data-error"); !strings.Contains(got, "Not saved") {
		t.Fatalf("invalid data: %q", got)
	}
	if got := evalIn[string](b, `document.getElementById("data").value`); got != `{"plan": "pro",` {
		t.Fatalf("the refused text was not kept: %q", got)
	}
	b.fill("#data", `{"plan": "pro", "seats": 3}`)
	b.submit("#save-data", ".flash.ok")
	if got := evalIn[string](b, `document.getElementById("data").value`); !strings.Contains(got, `"seats": 3`) {
		t.Fatalf("saved data: %q", got)
	}
	b.shot("user")
	b.submit("#toggle-enabled", ".flash.ok")
	if got := b.text("#user-enabled"); got != "no" {
		t.Fatalf("after disable: enabled %q", got)
	}
	b.fill("#confirm-delete", "user-01234@example.com")
	b.submit("#delete-user", "#users")
	if got := b.text(".flash.ok"); got != "User user-01234@example.com deleted." {
		t.Fatalf("after delete: %q", got)
	}
	b.do(chromedp.Navigate(p.Admin + "/users?q=user-01234%40"))
	if got := b.text("#users tbody"); got != "No users match." {
		t.Fatalf("the deleted user is still listed: %q", got)
	}

	// The export downloads what the import brought, less the deleted user.
	n := evalIn[int](b, `fetch("/export").then(r => r.text()).then(t => t.trim().split("\n").length)`, chromedp.EvalAwaitPromise)
	if n != seeded-1 {
		t.Fatalf("export: %d lines, want %d", n, seeded-1)
	}

	// A signing key rotation.
	b.do(chromedp.Navigate(p.Admin + "/keys"))
	keys := `document.querySelectorAll("#keys tbody tr").length`
	before := evalIn[int](b, keys)
	b.submit("#rotate-key", ".flash.ok")
	if after := evalIn[int](b, keys); after != before+1 {
		t.Fatalf("keys: %d before, %d after", before, after)
	}
	b.shot("keys")

	// CSRF: a forged token from the console's own origin, and a form
	// posted from another origin (the public listener's), are refused.
	status := evalIn[int](b, `fetch("/keys/rotate", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf=forged"}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	if status != 403 {
		t.Fatalf("forged CSRF token: status %d, want 403", status)
	}
	b.do(chromedp.Navigate(p.Public + "/healthz"))
	evalIn[bool](b, fmt.Sprintf(`(() => { const f = document.createElement("form"); f.method = "post"; f.action = %q;
		const i = document.createElement("input"); i.name = "csrf"; i.value = "x"; f.appendChild(i); document.body.appendChild(f); f.submit(); return true })()`,
		p.Admin+"/keys/rotate"))
	b.do(chromedp.WaitVisible(chromedp.CSS(".flash.error")))
	if got := b.text(".flash.error"); !strings.Contains(got, "CSRF check failed") {
		t.Fatalf("cross-origin post: %q", got)
	}
	b.do(chromedp.Navigate(p.Admin + "/keys"))
	if after := evalIn[int](b, keys); after != before+1 {
		t.Fatalf("a refused request rotated a key: %d keys", after)
	}

	// Some activity for the charts: registrations and logins on the public
	// surface.
	key := regexp.MustCompile(`SB-PUBLIC-KEY: (pk_[A-Za-z0-9_-]+)`).FindStringSubmatch(out.String())
	if key == nil {
		t.Fatalf("no public key in the start-up hints")
	}
	publicCall := func(path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.Public+path, strings.NewReader(body))
		req.Header.Set("SB-PUBLIC-KEY", key[1])
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	for i := range 3 {
		publicCall("/register", fmt.Sprintf(`{"email":"new-%d@example.com","password":"new-Secret-5521"}`, i), 200)
	}
	for range 2 {
		publicCall("/login", `{"email":"new-0@example.com","password":"wrong-Secret-0000"}`, 401)
	}
	publicCall("/login", `{"email":"new-1@example.com","password":"new-Secret-5521"}`, 200)

	// The other pages render.
	for _, page := range []struct{ path, sel, shot string }{
		{"/tenants", "#tenants", "tenants"}, {"/email", "#messages", "email"}, {"/activity", ".charts", "activity"},
	} {
		b.do(chromedp.Navigate(p.Admin+page.path), chromedp.WaitVisible(chromedp.CSS(page.sel)))
		b.shot(page.shot)
	}
	for sel, want := range map[string]string{".chart.s0 figcaption": ": 3 (", ".chart.s2 figcaption": ": 2 ("} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("chart %s: %q, want %q", sel, got, want)
		}
	}

	// Two-factor sign-in: turn it on, then sign in with and without a code.
	// Setting it up asks for the password again.
	b.do(chromedp.Navigate(p.Admin + "/account"))
	b.fill("#totp-password", "not-the-password-1234")
	b.submit("#totp-enroll", "#totp-password")
	if got := b.text(".flash.error"); got != "The password is not right." {
		t.Fatalf("setting up TOTP with a wrong password: %q", got)
	}
	b.fill("#totp-password", pw)
	b.submit("#totp-enroll", "#totp-secret")
	secret := b.text("#totp-secret")
	code, err := otptotp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#totp-code", code)
	b.submit("#totp-confirm", "#sign-in")
	b.fill("#email", email)
	b.fill("#password", pw)
	b.submit("#sign-in", "#login-error")
	if got := b.text("#login-error"); got != "Enter the code from your authenticator app." {
		t.Fatalf("sign-in without a code: %q", got)
	}
	b.fill("#password", pw)
	b.fill("#code", "000000")
	b.submit("#sign-in", "#login-error")
	// The next time step's code: the one just used is spent.
	code, _ = otptotp.GenerateCode(secret, time.Now().Add(30*time.Second))
	b.fill("#password", pw)
	b.fill("#code", code)
	b.submit("#sign-in", "#users")

	// Sign-out ends the session.
	b.submit(`form[action="/logout"] button`, "#sign-in")
	b.do(chromedp.Navigate(p.Admin + "/users"))
	if loc := b.location(); !strings.HasSuffix(loc, "/login") {
		t.Fatalf("after sign-out, /users went to %s", loc)
	}
	for _, ev := range []string{"admin_action", "admin_csrf_refused", "admin_login_failed"} {
		if !p.Logged(ev) {
			t.Errorf("no %s in the log", ev)
		}
	}
}
