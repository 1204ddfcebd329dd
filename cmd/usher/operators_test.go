package main

// The operator commands, run as an operator runs them: the real binary on
// a real database (SQLite, or PostgreSQL with USHER_TEST_ENGINE=postgres).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/usherhq/usher/internal/datakey"
	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// dataArgs returns the flags that point a command at a fresh, migrated
// database: a data directory, and on PostgreSQL a schema of its own.
func dataArgs(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"--data", dir}
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		args = append(args, "--db", pgtest.DSN(t))
		// On PostgreSQL, migrate makes no data directory: the first
		// serve makes the data key, as this does.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := datakey.Open(dir, ""); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, append([]string{"migrate"}, args...)...)
	return args
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runUsher(t, nil, args...)
	if code != 0 {
		t.Fatalf("usher %s: exit status %d; stderr:\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// readLines decodes a JSON-lines file.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestUsersImportExportRoundTrip(t *testing.T) {
	src := dataArgs(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("bcrypt-Secret-4411"), 4)
	if err != nil {
		t.Fatal(err)
	}
	keptID := "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001"
	lines := []string{
		fmt.Sprintf(`{"id":%q,"email":"Ann@Example.com","password_hash":%q,"confirmed":true,"data":{"plan":"pro"},"created_at":"2021-05-06T07:08:09.123Z"}`, keptID, hash),
		`{"email":"bob@example.com","password":"plain-Secret-5522","enabled":false}`,
		`{"email":"cy@example.com","password":"plain-Secret-6633"}`,
		`{"email":"dee@example.com","password_hash":"$md9$unknown"}`,
		`{"email":"eve@example.com","password":"x-Secret-7744","extra":1}`,
		`not json at all, with plain-Secret-8855 in it`,
		fmt.Sprintf(`{"email":"ann@example.com","password_hash":%q}`, hash),
	}
	file := writeTempFile(t, "users.jsonl", strings.Join(lines, "\n")+"\n")

	code, stdout, stderr := runUsher(t, nil, append([]string{"users", "import", file}, src...)...)
	if code == 0 {
		t.Errorf("import with refused lines: exit status 0, want non-zero")
	}
	if want := "created 3, updated 0, skipped 0, refused 4"; !strings.Contains(stdout, want) {
		t.Errorf("import summary: got %q, want it to say %q", stdout, want)
	}
	for _, n := range []int{4, 5, 6, 7} {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^line %d: refused: \S`, n)).MatchString(stderr) {
			t.Errorf("stderr does not report line %d as refused:\n%s", n, stderr)
		}
	}
	for _, secret := range []string{"plain-Secret", "bcrypt-Secret", string(hash), "x-Secret"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the import's output shows a password or hash (%q)", secret)
		}
	}

	// Export: without hashes unless asked; with them, in the import format.
	plainOut := filepath.Join(t.TempDir(), "plain.jsonl")
	mustRun(t, append([]string{"users", "export", "-o", plainOut}, src...)...)
	for _, l := range readLines(t, plainOut) {
		if _, ok := l["password_hash"]; ok {
			t.Errorf("export without --with-hashes wrote a hash for %v", l["email"])
		}
	}
	out := filepath.Join(t.TempDir(), "export.jsonl")
	mustRun(t, append([]string{"users", "export", "--with-hashes", "-o", out}, src...)...)
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	exported := readLines(t, out)
	if len(exported) != 3 {
		t.Fatalf("export: %d users, want 3", len(exported))
	}
	first := exported[0]
	if first["id"] != keptID || first["email"] != "Ann@Example.com" || first["confirmed"] != true ||
		first["created_at"] != "2021-05-06T07:08:09.123Z" || fmt.Sprint(first["data"]) != "map[plan:pro]" {
		t.Errorf("the imported user with a kept id, in creation order first: got %v", first)
	}

	// Into an empty database: the same users; run twice, nothing changes.
	dst := dataArgs(t)
	if got := mustRun(t, append([]string{"users", "import", out}, dst...)...); !strings.Contains(got, "created 3, updated 0, skipped 0, refused 0") {
		t.Errorf("import of the export: %q", got)
	}
	if got := mustRun(t, append([]string{"users", "import", out}, dst...)...); !strings.Contains(got, "created 0, updated 0, skipped 3, refused 0") {
		t.Errorf("the same import again: %q", got)
	}
	again := filepath.Join(t.TempDir(), "again.jsonl")
	mustRun(t, append([]string{"users", "export", "--with-hashes", "-o", again}, dst...)...)
	if a, b := mustReadFile(t, out), mustReadFile(t, again); a != b {
		t.Errorf("export after the round trip differs:\n%s\nwant:\n%s", b, a)
	}

	// Every password works on the imported copy; a disabled user stays out.
	s := startServer(t, func(m *Main) {
		m.Config.Data, m.Config.DB = dst[1], ""
		if len(dst) == 4 {
			m.Config.DB = dst[3]
		}
	})
	s.PublicAPI.mustLogin(t, "ann@example.com", "bcrypt-Secret-4411")
	s.PublicAPI.mustLogin(t, "cy@example.com", "plain-Secret-6633")
	s.PublicAPI.login(t, "bob@example.com", "plain-Secret-5522").wantStatus(t, "login of a disabled imported user", 401)
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTenantCommands(t *testing.T) {
	db := dataArgs(t)
	run := func(args ...string) string { return mustRun(t, append(args, db...)...) }

	created := run("tenant", "create", "acme")
	key := regexp.MustCompile(`public key: (pk_\S+)`).FindStringSubmatch(created)
	if key == nil {
		t.Fatalf("tenant create printed no public key:\n%s", created)
	}
	if got := run("tenant", "list"); !strings.Contains(got, "acme") || !strings.Contains(got, "default") {
		t.Errorf("tenant list: %q", got)
	}
	if got := run("tenant", "show", "acme"); !strings.Contains(got, key[1]) {
		t.Errorf("tenant show acme: %q, want the key %s", got, key[1])
	}
	rotated := run("tenant", "rotate-key", "acme", "--overlap", "1h")
	if !strings.Contains(rotated, "previous key: "+key[1]) || strings.Contains(strings.SplitN(rotated, "previous", 2)[0], key[1]) {
		t.Errorf("rotate-key: the old key should be the previous one:\n%s", rotated)
	}

	file := writeTempFile(t, "one.jsonl", `{"email":"ann@acme.test","password":"acme-Secret-1234"}`+"\n")
	if got := run("users", "import", file, "--tenant", "acme"); !strings.Contains(got, "created 1") {
		t.Errorf("import into acme: %q", got)
	}
	code, _, stderr := runUsher(t, nil, append([]string{"tenant", "delete", "acme"}, db...)...)
	if code == 0 || !strings.Contains(stderr, "force") {
		t.Errorf("tenant delete of a tenant with users: exit %d, stderr %q; want a refusal that names --force", code, stderr)
	}
	run("tenant", "delete", "acme", "--force")
	if got := run("tenant", "list"); strings.Contains(got, "acme") {
		t.Errorf("tenant list after delete: %q", got)
	}
	code, _, stderr = runUsher(t, nil, append([]string{"tenant", "delete", "default", "--force"}, db...)...)
	if code == 0 || !strings.Contains(stderr, "default tenant") {
		t.Errorf("tenant delete default: exit %d, stderr %q; want a refusal", code, stderr)
	}
}

// TestImportFirebaseOverTheAPI imports a user exported from Firebase, with
// the project's hash parameters in headers, and signs in with its
// password. The vector is the example of github.com/firebase/scrypt's
// README (commit 36feb92b): its project parameters, user1@test.com's salt
// and hash, and the password "user1password".
func TestImportFirebaseOverTheAPI(t *testing.T) {
	s := startServer(t, withThunder, func(m *Main) { m.Config.ThunderHeaderCheck = false })
	line := `{"email":"user1@test.com","password_hash":"lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==","password_salt":"42xEC+ixf3L2lw=="}` + "\n"
	firebase := []reqOpt{
		header("Content-Type", "application/x-ndjson"),
		header("Usher-Firebase-Signer-Key", "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="),
		header("Usher-Firebase-Salt-Separator", "Bw=="),
		header("Usher-Firebase-Rounds", "8"),
		header("Usher-Firebase-Mem-Cost", "14"),
	}
	// Without the project's parameters, the salted line is refused.
	var sum struct {
		Created, Refused int
		Errors           []struct{ Line int }
	}
	s.BackendAPI.do(t, "POST", "/users/import", line, firebase[0]).wantStatus(t, "import without parameters", http.StatusOK).decode(t, "summary", &sum)
	if sum.Created != 0 || sum.Refused != 1 || len(sum.Errors) != 1 || sum.Errors[0].Line != 1 {
		t.Fatalf("import of a Firebase line without the parameters: %+v; want line 1 refused", sum)
	}
	s.BackendAPI.do(t, "POST", "/users/import", line, firebase...).wantStatus(t, "import", http.StatusOK).decode(t, "summary", &sum)
	if sum.Created != 1 || sum.Refused != 0 {
		t.Fatalf("import of a Firebase user: %+v; want it created", sum)
	}
	// Thunder shows stored hashes, but never the project's signer key that
	// a Firebase hash carries.
	r := s.ThunderAPI.do(t, "GET", "/users?email=user1@test.com", "")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"password":null`) || strings.Contains(string(r.Body), "jxspr8Ki0RYy") {
		t.Errorf("Thunder's password field for a Firebase user: %v; want null", r)
	}
	s.PublicAPI.login(t, "user1@test.com", "not-the-Password-1").wantStatus(t, "login with a wrong password", http.StatusUnauthorized)
	s.PublicAPI.mustLogin(t, "user1@test.com", "user1password")
	// The first sign-in replaced the Firebase hash with argon2id.
	// (The export is JSON lines, not one JSON body: send, not do.)
	u, err := send(s.BackendAPI.http, s.BackendAPI.request(t, "GET", "/users/export?with_hashes=true", ""))
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != http.StatusOK || u.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %v, Content-Type %q; want 200 application/x-ndjson", u, u.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(u.Body), `"password_hash":"$argon2id$`) {
		t.Errorf("after the first sign-in, the hash is not argon2id: %s", u.Body)
	}
}
