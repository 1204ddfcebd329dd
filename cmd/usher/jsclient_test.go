package main

// The official JavaScript clients, run by Node.js against an in-process
// Usher: @staticbackend/js on the public surface and thunder-client on the
// Thunder surface.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The smoke tests of the official JavaScript clients, relative to this
// package's directory (go test runs in cmd/usher).
const (
	staticBackendClientDir = "../../clients/staticbackend"
	thunderClientDir       = "../../clients/thunder"
)

// skipOrFailWithoutNode skips a JavaScript client test with a hint, or fails it when
// CI=true: in CI a missing node or missing node_modules is a broken
// pipeline, not a reason to skip. dir is the client's folder, e.g.
// clients/staticbackend.
func skipOrFailWithoutNode(t *testing.T, dir, why string) {
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
	dir, err := filepath.Abs(staticBackendClientDir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFailWithoutNode(t, "clients/staticbackend", "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@staticbackend", "js", "package.json")); err != nil {
		skipOrFailWithoutNode(t, "clients/staticbackend", "clients/staticbackend/node_modules is missing or incomplete")
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

// TestThunderJSClient runs the official Thunder JavaScript client
// (thunder-client, pinned in clients/thunder/package.json) against the
// Thunder surface: create, get, update (properties, then email), send the
// verification email, verify (json and html) with the token taken from the
// email that reached the SMTP sink, reset verification, delete.
func TestThunderJSClient(t *testing.T) {
	dir, err := filepath.Abs(thunderClientDir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFailWithoutNode(t, "clients/thunder", "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "thunder-client", "package.json")); err != nil {
		skipOrFailWithoutNode(t, "clients/thunder", "clients/thunder/node_modules is missing or incomplete")
	}

	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, withThunder)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "smoke.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"USHER_THUNDER_URL="+s.ThunderAPI.base,
		"USHER_THUNDER_APP="+thunderApp,
		"USHER_THUNDER_SECRET="+thunderSecret,
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 5 * time.Second
	var out syncBuffer
	cmd.Stderr = &out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node smoke.mjs: %v", err)
	}

	// Answer each NEED_TOKEN with the token of the newest verification
	// email to that address that has not been handed out yet.
	used := map[int]bool{}
	var answerErr error
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for lines.Scan() {
		line := lines.Text()
		out.Write([]byte(line + "\n"))
		email, ok := strings.CutPrefix(line, "NEED_TOKEN ")
		if !ok || answerErr != nil {
			continue
		}
		tok, err := waitVerifyToken(ctx, sink, strings.TrimSpace(email), used)
		if err == nil {
			_, err = io.WriteString(stdin, tok+"\n")
		}
		if err != nil {
			// Let node see the end of its input and fail on it.
			answerErr = err
			stdin.Close()
		}
	}
	stdin.Close()
	// After a scan error, keep draining so node never blocks on a full pipe.
	io.Copy(&out, stdout)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("node smoke.mjs timed out after 90s; output:\n%s", out.String())
	}
	if answerErr != nil {
		t.Fatalf("answering NEED_TOKEN: %v; node output:\n%s", answerErr, out.String())
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("node smoke.mjs exited with %d; output:\n%s", exitErr.ExitCode(), out.String())
		}
		t.Fatalf("node smoke.mjs: %v; output:\n%s", err, out.String())
	}
	t.Logf("node smoke.mjs:\n%s", out.String())
}

// verifyLinkPattern finds the verification link in an email's text.
var verifyLinkPattern = regexp.MustCompile(`https?://\S+/verify\?\S+`)

// waitVerifyToken waits until the sink holds a verification email to rcpt that
// is not in used, marks the newest such email used and returns the token
// of its link.
func waitVerifyToken(ctx context.Context, sink *smtpSink, rcpt string, used map[int]bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		newest := -1
		msgs := sink.Messages()
		for i, m := range msgs {
			if !used[i] && m.Has(rcpt) && strings.Contains(m.Subject(), verifySubject) {
				newest = i
			}
		}
		if newest >= 0 {
			used[newest] = true
			return linkToken(msgs[newest].Part("text/plain"))
		}
		select {
		case <-sink.arrived:
		case <-ctx.Done():
			return "", fmt.Errorf("no new %q email to %s (the sink holds %d messages): %w", verifySubject, rcpt, len(msgs), ctx.Err())
		}
	}
}

// linkToken returns the token query parameter of the verification link in
// an email's text part.
func linkToken(text string) (string, error) {
	link := verifyLinkPattern.FindString(text)
	if link == "" {
		return "", fmt.Errorf("no verification link in the email text:\n%s", text)
	}
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("verification link %q: %w", link, err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		return "", fmt.Errorf("verification link %q has no token", link)
	}
	return tok, nil
}
