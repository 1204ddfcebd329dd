package main

// Process-level tests: they build the real usher binary and run it as a
// child process, the way an operator does, to test what only a process
// shows: signals, exit codes, start-up refusals, configuration layering and
// the help text.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/config"
	"github.com/usherhq/usher/internal/usher"
)

func TestProcessSIGTERMDrainsInFlightRequests(t *testing.T) {
	p := startChild(t, childOpts{})
	c := childClient(t, p.Data, false)
	tr := httpTransport(c)
	// One connection per request, never reused: a request written on a
	// kept-alive connection the server still sees idle may be dropped by a
	// graceful shutdown (HTTP/1.1 cannot tell), which is no fault of Usher.
	tr.DisableKeepAlives = true
	// Each create is sent with "Expect: 100-continue": the server answers
	// "100 Continue" when the handler starts reading the body, so the client
	// learns that the request is in Usher's hands, not merely in a socket.
	tr.ExpectContinueTimeout = time.Minute

	// Creates are slow (production argon2id, at most one hash per CPU at
	// once), so most of these are still being served when SIGTERM arrives,
	// and draining must finish every one of them.
	const n = 8
	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, n)
	var started, done sync.WaitGroup
	var answered atomic.Int32
	started.Add(n)
	done.Add(n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		go func() {
			defer done.Done()
			var once sync.Once
			inHandler := func() { once.Do(started.Done) }
			defer inHandler() // also when the request fails before the handler
			trace := &httptrace.ClientTrace{Got100Continue: inHandler}
			body, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("drain-%d@example.com", i), "password": passwordOfLength(12)})
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost,
				p.Backend+"/users", bytes.NewReader(body))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Expect", "100-continue")
			res, err := c.Do(req)
			if err != nil {
				results[i].err = err
				answered.Add(1)
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			results[i] = result{res.StatusCode, b, err}
			answered.Add(1)
		}()
	}
	started.Wait()
	inFlight := n - int(answered.Load())
	p.Signal(t, syscall.SIGTERM)
	done.Wait()

	t.Logf("%d of %d creates in flight at SIGTERM", inFlight, n)
	if inFlight == 0 {
		t.Errorf("every create was answered before SIGTERM; the test exercised no draining")
	}
	var ids []string
	for i, r := range results {
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("create %d (%d of %d in flight at SIGTERM): status %d, error %v, body %s; want 201", i, inFlight, n, r.status, r.err, r.body)
			continue
		}
		var u struct{ ID string }
		if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
			t.Errorf("create %d: body %s: no id", i, r.body)
			continue
		}
		ids = append(ids, u.ID)
	}
	if code := p.Wait(t); code != 0 {
		t.Errorf("exit status after SIGTERM: got %d, want 0", code)
	}
	for _, event := range []string{"shutdown", "stopped"} {
		if !p.Logged(event) {
			t.Errorf("no %q event logged; stderr:\n%s", event, p.Stderr())
		}
	}

	// What was acknowledged during the drain was committed.
	q := startChild(t, childOpts{Data: p.Data})
	qbe := q.backendAPI(t, true)
	for _, id := range ids {
		r, err := qbe.call(ctx, http.MethodGet, "/users/"+id, nil)
		if err != nil || r.Status != http.StatusOK {
			t.Errorf("GET /users/%s after restart: status %d, error %v, body %s; want 200", id, r.Status, err, r.Body)
		}
	}
}

func TestProcessVersion(t *testing.T) {
	code, stdout, stderr := runUsher(t, nil, "version")
	if code != 0 {
		t.Fatalf("usher version: exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	if got := strings.TrimSpace(stdout); got != testVersion {
		t.Errorf("usher version printed %q, want %q", got, testVersion)
	}
}

func TestProcessMigrateCreatesDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	for run, wantApplied := range []bool{true, false} {
		code, _, stderr := runUsher(t, nil, "migrate", "--data", dir)
		if code != 0 {
			t.Fatalf("usher migrate, run %d: exit status %d, want 0; stderr:\n%s", run+1, code, stderr)
		}
		applied, ok := migratedEvent(stderr)
		if !ok {
			t.Fatalf("usher migrate, run %d: no \"migrated\" event; stderr:\n%s", run+1, stderr)
		}
		if got := len(applied) > 0; got != wantApplied {
			t.Errorf("usher migrate, run %d: applied %v; want migrations applied: %v", run+1, applied, wantApplied)
		}
	}
	db := openReadOnly(t, SQLitePath(dir))
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("database after migrate: %d tables named users, want 1", n)
	}
}

// migratedEvent returns the versions listed by the "migrated" line.
func migratedEvent(stderr string) (applied []int64, ok bool) {
	for line := range strings.SplitSeq(stderr, "\n") {
		var ev struct {
			Event   string  `json:"event"`
			Applied []int64 `json:"applied"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "migrated" {
			return ev.Applied, true
		}
	}
	return nil, false
}

func TestProcessBadSettingStopsStartup(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		file string // config file content, passed with --config
		want string // named in stderr
	}{
		{name: "flag below minimum", args: []string{"--password-min", "0"}, want: "password-min"},
		{name: "env below password-min", env: []string{"USHER_PASSWORD_MAX=3"}, want: "password-max"},
		{name: "file value invalid", file: "password:\n  min: 0\n", want: "password-min"},
		{name: "file unknown nested key", file: "password:\n  minimum: 3\n", want: "password-minimum"},
		{name: "file unknown dotted key", file: "hash.wrokers: 2\n", want: "hash-wrokers"},
		{name: "file unknown top-level key", file: "colour: blue\n", want: "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append(args, "--config", writeTempFile(t, "usher.yaml", tt.file))
			}
			code, _, stderr := runUsher(t, tt.env, serveArgs(t.TempDir(), args...)...)
			if code == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not name %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, `"event":"ready"`) {
				t.Errorf("usher got ready despite the bad setting:\n%s", stderr)
			}
		})
	}
}

func TestProcessConfigPrecedence(t *testing.T) {
	// Layers, each overriding the one before: file, then environment, then
	// flags. The effective password minimum shows through the API.
	file := "password:\n  min: 12\n"
	tests := []struct {
		name    string
		file    bool
		env     []string
		args    []string
		wantMin int
	}{
		{name: "defaults", wantMin: 8},
		{name: "file", file: true, wantMin: 12},
		{name: "env over file", file: true, env: []string{"USHER_PASSWORD_MIN=10"}, wantMin: 10},
		{name: "flag over env and file", file: true, env: []string{"USHER_PASSWORD_MIN=10"}, args: []string{"--password-min", "9"}, wantMin: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file {
				args = append(args, "--config", writeTempFile(t, "usher.yaml", file))
			}
			p := startChild(t, childOpts{Args: args, Env: tt.env})
			be := p.backendAPI(t, true)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The shortest accepted password: refusals are cheap, only the
			// one accepted create costs a hash.
			for n := 7; n <= 13; n++ {
				r, err := be.call(ctx, http.MethodPost, "/users",
					map[string]any{"email": fmt.Sprintf("len%d@example.com", n), "password": passwordOfLength(n)})
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case n < tt.wantMin && (r.Status != http.StatusBadRequest || errorCodeOf(r.Body) != usher.InvalidPassword):
					t.Errorf("%d-character password: status %d, body %s; want 400 %s (minimum %d)", n, r.Status, r.Body, usher.InvalidPassword, tt.wantMin)
				case n >= tt.wantMin && r.Status != http.StatusCreated:
					t.Errorf("%d-character password: status %d, body %s; want 201 (minimum %d)", n, r.Status, r.Body, tt.wantMin)
				}
				if n >= tt.wantMin {
					return
				}
			}
		})
	}
}

func TestProcessServeHelpNamesEverySetting(t *testing.T) {
	code, stdout, stderr := runUsher(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("usher serve --help: exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	names := flagNames(reflect.TypeFor[config.Config](), "")
	if len(names) < 10 {
		t.Fatalf("found only %d settings in config.Config: %v", len(names), names)
	}
	for _, name := range names {
		// A flag is shown as --name=VALUE, or --[no-]name when negatable,
		// and is followed by a space or a line break.
		mention := regexp.MustCompile(`(^|\s)--(\[no-\])?` + regexp.QuoteMeta(name) + `(=|\s|$)`)
		if !mention.MatchString(stdout) {
			t.Errorf("usher serve --help does not mention --%s", name)
		}
	}
	if t.Failed() {
		t.Logf("help text:\n%s", stdout)
	}
}

// flagNames returns the flag names declared by the `name` tags of a
// kong-tagged struct, following embedded and prefixed sub-structs.
func flagNames(typ reflect.Type, prefix string) []string {
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Tag.Get("kong") == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		_, embed := f.Tag.Lookup("embed")
		if ft.Kind() == reflect.Struct && (embed || f.Anonymous) && f.Tag.Get("name") == "" {
			names = append(names, flagNames(ft, prefix+f.Tag.Get("prefix"))...)
			continue
		}
		if name := f.Tag.Get("name"); name != "" {
			names = append(names, prefix+name)
		}
	}
	return names
}
