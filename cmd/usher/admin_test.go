package main

// In-process tests of the admin commands: run() with arguments and
// environment as an operator gives them, its output captured.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// runInProcess runs the usher command line args in this process and
// returns its exit code, standard output and standard error. It swaps
// os.Stdout and os.Stderr while the command runs, so the calling test must
// not be parallel (t.Setenv, which these tests use, enforces that).
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	open := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	out, errOut := open("stdout"), open("stderr")
	defer out.Close()
	defer errOut.Close()
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = out, errOut
	func() {
		defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
		code = run(args)
	}()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return code, read("stdout"), read("stderr")
}

// cleanUsherEnv unsets every USHER_* variable for the test, so that the
// developer's shell cannot change what the command reads.
func cleanUsherEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "USHER_") {
			t.Setenv(name, "") // restores the value when the test ends
			os.Unsetenv(name)
		}
	}
}

// preparedData returns a data directory that `usher serve` has started on,
// and the public key of its default tenant.
func preparedData(t *testing.T) (dir, publicKey string) {
	t.Helper()
	s := startServer(t)
	s.Stop(t)
	return s.Config.Data, s.Tenant.PublicKey
}

// dirEntries lists a directory's names, or nil when it does not exist.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestAdminCommandsRefuseMissingDataAndCreateNothing(t *testing.T) {
	cleanUsherEnv(t)
	commands := [][]string{{"tenant", "show"}, {"keys", "rotate"}}
	places := []struct {
		name  string
		setup func(t *testing.T) string // returns the data directory
	}{
		{"no directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nowhere") }},
		{"empty directory", func(t *testing.T) string { return t.TempDir() }},
		{"directory without usher.db", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte("x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	}
	for _, cmd := range commands {
		for _, p := range places {
			t.Run(strings.Join(cmd, " ")+"/"+p.name, func(t *testing.T) {
				dir := p.setup(t)
				before := dirEntries(t, dir)
				code, stdout, stderr := runInProcess(t, append(cmd, "--data", dir)...)
				if code == 0 {
					t.Fatalf("exit code: got 0, want non-zero; stdout:\n%s", stdout)
				}
				want := "no Usher data at " + dir + "; start `usher serve` first or pass --data/--db"
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr: got\n%s\nwant it to contain %q", stderr, want)
				}
				if after := dirEntries(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
					t.Errorf("the data directory changed: got %v, want %v", after, before)
				}
			})
		}
	}
}

// A database whose data key is missing is refused too: a new key could
// not open the signing keys sealed with the old one.
func TestAdminCommandsRefuseAMissingDataKey(t *testing.T) {
	cleanUsherEnv(t)
	dir, _ := preparedData(t)
	if err := os.Remove(filepath.Join(dir, "secret.key")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runInProcess(t, "tenant", "show", "--data", dir)
	if code == 0 || !strings.Contains(stderr, "no data key at "+filepath.Join(dir, "secret.key")) {
		t.Errorf("exit %d, stderr:\n%s\nwant non-zero and a message naming the missing data key", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !os.IsNotExist(err) {
		t.Errorf("secret.key after the refusal: %v, want none made", err)
	}
}

// The admin commands read the configuration as serve does: flags, USHER_*
// variables and the --config file (USHER_CONFIG), in that precedence.
func TestAdminCommandsReadServesConfiguration(t *testing.T) {
	cleanUsherEnv(t) // before serve prepares the data: USHER_TEST_ENGINE would pick PostgreSQL
	dir, key := preparedData(t)
	wrong := filepath.Join(t.TempDir(), "wrong")
	writeConfig := func(t *testing.T, data string) string {
		path := filepath.Join(t.TempDir(), "usher.yaml")
		if err := os.WriteFile(path, []byte("data: "+data+"\nlog-level: warn\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flag", nil, []string{"--data", dir}},
		{"environment", map[string]string{"USHER_DATA": dir}, nil},
		{"config file flag", nil, []string{"--config", writeConfig(t, dir)}},
		{"config file in USHER_CONFIG", map[string]string{"USHER_CONFIG": writeConfig(t, dir)}, nil},
		{"environment over config file", map[string]string{"USHER_DATA": dir}, []string{"--config", writeConfig(t, wrong)}},
		{"flag over environment", map[string]string{"USHER_DATA": wrong}, []string{"--data", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanUsherEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runInProcess(t, append([]string{"tenant", "show"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "public key: "+key) {
				t.Errorf("stdout:\n%s\nwant the public key %s of the prepared data", stdout, key)
			}
			if _, err := os.Stat(wrong); !os.IsNotExist(err) {
				t.Errorf("the overridden data directory was created")
			}
		})
	}
}

// migrate prepares a data directory on purpose (database and data key),
// after which the admin commands work on it.
func TestMigrateCreatesWhatAdminCommandsNeed(t *testing.T) {
	cleanUsherEnv(t)
	dir := filepath.Join(t.TempDir(), "fresh")
	if code, _, stderr := runInProcess(t, "migrate", "--data", dir); code != 0 {
		t.Fatalf("migrate: exit %d; stderr:\n%s", code, stderr)
	}
	for _, name := range []string{"usher.db", "secret.key"} {
		if !isFile(filepath.Join(dir, name)) {
			t.Errorf("after migrate: no %s in the data directory", name)
		}
	}
	code, stdout, stderr := runInProcess(t, "tenant", "show", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "public key: ") {
		t.Errorf("tenant show after migrate: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runInProcess(t, "keys", "rotate", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "new signing key: ") {
		t.Errorf("keys rotate after migrate: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// On PostgreSQL, an admin command refuses a database without Usher's
// schema (and creates no data directory); after migrate it works.
func TestAdminCommandsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	cleanUsherEnv(t)
	dir := filepath.Join(t.TempDir(), "nodata")
	secret := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes
	args := []string{"--data", dir, "--db", dsn, "--secret-key", secret}
	code, _, stderr := runInProcess(t, append([]string{"tenant", "show"}, args...)...)
	if code == 0 || !strings.Contains(stderr, "no Usher data in the database") {
		t.Errorf("tenant show on an empty database: exit %d, stderr:\n%s\nwant a refusal", code, stderr)
	}
	if code, _, stderr := runInProcess(t, append([]string{"migrate"}, args...)...); code != 0 {
		t.Fatalf("migrate: exit %d; stderr:\n%s", code, stderr)
	}
	code, stdout, stderr := runInProcess(t, append([]string{"tenant", "show"}, args...)...)
	if code != 0 || !strings.Contains(stdout, "public key: ") {
		t.Errorf("tenant show after migrate: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a data directory was created for a PostgreSQL database")
	}
}
