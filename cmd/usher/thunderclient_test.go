package main

import (
	"bufio"
	"bytes"
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
	"sync"
	"testing"
	"time"
)

// tcClientDir is the Thunder JavaScript client's smoke test, relative to
// this package's directory (go test runs in cmd/usher).
const tcClientDir = "../../clients/thunder"

// tcVerifySubject is the subject of Usher's verification email.
const tcVerifySubject = "Account Verification"

// TestThunderJSClient runs the official Thunder JavaScript client
// (thunder-client, pinned in clients/thunder/package.json) against the
// Thunder surface: create, get, update (properties, then email), send the
// verification email, verify (json and html) with the token taken from the
// email that reached the SMTP sink, reset verification, delete.
func TestThunderJSClient(t *testing.T) {
	dir, err := filepath.Abs(tcClientDir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		jsSkipOrFail(t, "clients/thunder", "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "thunder-client", "package.json")); err != nil {
		jsSkipOrFail(t, "clients/thunder", "clients/thunder/node_modules is missing or incomplete")
	}

	const app, secret = "app", "secret"
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, func(m *Main) {
		m.Config.ThunderAddr = "127.0.0.1:0"
		m.Config.ThunderApps = []string{app + ":" + secret}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "smoke.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"USHER_THUNDER_URL=http://"+s.ThunderAddr(),
		"USHER_THUNDER_APP="+app,
		"USHER_THUNDER_SECRET="+secret,
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 5 * time.Second
	var out tcOutput
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
		tok, err := tcWaitToken(ctx, sink, strings.TrimSpace(email), used)
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

// tcOutput collects node's stdout and stderr lines in arrival order.
type tcOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *tcOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *tcOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// tcLink finds the verification link in an email's text.
var tcLink = regexp.MustCompile(`https?://\S+/verify\?\S+`)

// tcWaitToken waits until the sink holds a verification email to rcpt that
// is not in used, marks the newest such email used and returns the token
// of its link.
func tcWaitToken(ctx context.Context, sink *smtpSink, rcpt string, used map[int]bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		newest := -1
		msgs := sink.Messages()
		for i, m := range msgs {
			if !used[i] && m.Has(rcpt) && strings.Contains(m.Subject(), tcVerifySubject) {
				newest = i
			}
		}
		if newest >= 0 {
			used[newest] = true
			return tcToken(msgs[newest].Part("text/plain"))
		}
		select {
		case <-sink.arrived:
		case <-ctx.Done():
			return "", fmt.Errorf("no new %q email to %s (the sink holds %d messages): %w", tcVerifySubject, rcpt, len(msgs), ctx.Err())
		}
	}
}

// tcToken returns the token query parameter of the verification link in
// an email's text part.
func tcToken(text string) (string, error) {
	link := tcLink.FindString(text)
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
