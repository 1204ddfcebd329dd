package datakey_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/datakey"
)

func TestOpenCreatesTheKeyFileOnce(t *testing.T) {
	dir := t.TempDir()
	box, err := datakey.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, datakey.FileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode: got %v, want 0600", got)
	}
	first, _ := os.ReadFile(path)
	again, err := datakey.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); string(second) != string(first) {
		t.Error("a second Open rewrote the key file")
	}
	sealed := box.Seal([]byte("secret"), "ctx")
	if plain, err := again.Open(sealed, "ctx"); err != nil || string(plain) != "secret" {
		t.Errorf("a Box of the reopened key: Open = %q, %v; want the sealed value", plain, err)
	}
}

func TestOpenFromConfiguration(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	dir := t.TempDir()
	if _, err := datakey.Open(dir, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, datakey.FileName)); !os.IsNotExist(err) {
		t.Errorf("a configured key wrote a key file (stat: %v)", err)
	}
}

func TestOpenRefusesBadKeys(t *testing.T) {
	for name, tc := range map[string]struct{ file, secret string }{
		"short secret":     {secret: base64.StdEncoding.EncodeToString([]byte("short"))},
		"not base64":       {secret: "%%%"},
		"short file":       {file: base64.StdEncoding.EncodeToString([]byte("short")) + "\n"},
		"garbage file":     {file: "not a key\n"},
		"empty file":       {file: ""},
		"trailing garbage": {file: base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))) + "x\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.secret == "" {
				if err := os.WriteFile(filepath.Join(dir, datakey.FileName), []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := datakey.Open(dir, tc.secret); err == nil {
				t.Error("Open accepted a bad key")
			}
		})
	}
}
