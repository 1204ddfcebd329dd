package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// jsClientDir is the StaticBackend JavaScript client's smoke test, relative
// to this package's directory (go test runs in cmd/usher).
const jsClientDir = "../../clients/staticbackend"

// jsSkipOrFail skips a JavaScript client test with a hint, or fails it when
// CI=true: in CI a missing node or missing node_modules is a broken
// pipeline, not a reason to skip. dir is the client's folder, e.g.
// clients/staticbackend.
func jsSkipOrFail(t *testing.T, dir, why string) {
	t.Helper()
	msg := why + "; run `npm ci --prefix " + dir + "` (Node.js >= 20) to enable this test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestStaticBackendJSClient runs the official StaticBackend JavaScript client
// (@staticbackend/js, pinned in clients/staticbackend/package.json) against
// the public surface: register, login, me, and a refused wrong password.
func TestStaticBackendJSClient(t *testing.T) {
	dir, err := filepath.Abs(jsClientDir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		jsSkipOrFail(t, "clients/staticbackend", "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@staticbackend", "js", "package.json")); err != nil {
		jsSkipOrFail(t, "clients/staticbackend", "clients/staticbackend/node_modules is missing or incomplete")
	}

	s := startServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "smoke.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"USHER_URL="+s.Public,
		"USHER_PUBLIC_KEY="+s.Tenant.PublicKey,
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node smoke.mjs timed out after 60s; output:\n%s", out)
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("node smoke.mjs exited with %d; output:\n%s", exitErr.ExitCode(), out)
		}
		t.Fatalf("node smoke.mjs: %v; output:\n%s", err, out)
	}
	t.Logf("node smoke.mjs:\n%s", out)
}
