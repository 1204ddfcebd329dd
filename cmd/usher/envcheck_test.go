package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"
)

func TestFindUnknownEnv(t *testing.T) {
	var c cli
	parser, err := kong.New(&c, kong.DefaultEnvars("USHER"))
	if err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"HOME=/root",
		"USHER_DATA=/var/lib/usher",        // known
		"USHER_THUNDER_APP=a:b",            // known
		"USHER_CONFIG=/etc/usher.yaml",     // known (--config)
		"USHER_TEST_POSTGRES=postgres://x", // the tests'
		"USHER_PASWORD_MIN=10",             // one letter off
		"USHER_DATA_DIR=/var/lib/usher",    // a suffix too many
		"USHER_THUNDER_APPS=a:b,c:d",       // plural
		"USHER_SMTP_PASS=secret",           // abbreviated
		"USHER_FROBNICATE=1",               // nothing close
	}
	got := findUnknownEnv(parser.Model, environ)
	want := []unknownEnv{
		{"USHER_DATA_DIR", "USHER_DATA"},
		{"USHER_FROBNICATE", ""},
		{"USHER_PASWORD_MIN", "USHER_PASSWORD_MIN"},
		{"USHER_SMTP_PASS", "USHER_SMTP_PASSWORD"},
		{"USHER_THUNDER_APPS", "USHER_THUNDER_APP"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findUnknownEnv (-want +got):\n%s", diff)
	}
}

// The warning is logged at start by every command, names the variable
// and a close known one, and never shows the value.
func TestUnknownEnvIsWarnedAtStart(t *testing.T) {
	cleanUsherEnv(t)
	t.Setenv("USHER_PUBLC_URL", "https://secret-value.example.com")
	t.Setenv("USHER_DATA", t.TempDir())
	code, _, stderr := runInProcess(t, "version")
	if code != 0 {
		t.Fatalf("version: exit %d; stderr:\n%s", code, stderr)
	}
	var warnings []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "config_warning" {
			warnings = append(warnings, ev)
		}
	}
	if len(warnings) != 1 || warnings[0]["variable"] != "USHER_PUBLC_URL" || warnings[0]["did_you_mean"] != "USHER_PUBLIC_URL" {
		t.Errorf("warnings: got %v, want one for USHER_PUBLC_URL suggesting USHER_PUBLIC_URL; stderr:\n%s", warnings, stderr)
	}
	if strings.Contains(stderr, "secret-value") {
		t.Errorf("the variable's value was logged:\n%s", stderr)
	}
}
