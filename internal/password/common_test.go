package password

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn/frequency"
)

var update = flag.Bool("update", false, "write common.txt from zxcvbn's list")

// TestCommonListIsZxcvbns checks that common.txt holds the first
// CommonCount of zxcvbn's ranked passwords, sorted, each once. With -update
// it writes the file (after a change of the module's version or of
// CommonCount).
func TestCommonListIsZxcvbns(t *testing.T) {
	ranked := frequency.FrequencyLists["passwords"]
	if len(ranked) < CommonCount {
		t.Fatalf("zxcvbn lists %d passwords, fewer than CommonCount (%d)", len(ranked), CommonCount)
	}
	list := slices.Clone(ranked[:CommonCount])
	slices.Sort(list)
	list = slices.Compact(list)
	for _, pw := range list {
		if pw == "" || strings.ContainsRune(pw, '\n') || pw != strings.ToLower(pw) || len(pw) > 72 {
			t.Fatalf("zxcvbn lists %q: empty, multi-line, not lower case or over 72 bytes, which IsCommon cannot match", pw)
		}
	}
	want := strings.Join(list, "\n") + "\n"
	if *update {
		if err := os.WriteFile("common.txt", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if common != want {
		t.Fatalf("common.txt (%d bytes) is not zxcvbn's first %d passwords sorted (%d bytes): run go test -run TestCommonListIsZxcvbns -update", len(common), CommonCount, len(want))
	}
}

func TestIsCommon(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"top of the list", "password", true},
		{"case ignored", "PassWord1", true},
		{"deep in the list", "trustno1", true},
		{"the last one listed", "geekboy", true},
		{"first in sort order", strings.SplitN(common, "\n", 2)[0], true},
		{"last in sort order", common[strings.LastIndexByte(common[:len(common)-1], '\n')+1 : len(common)-1], true},
		{"empty", "", false},
		{"a passphrase", "correct horse battery staple", false},
		{"random", "qZ7#vLp2!xR", false},
		{"two listed passwords on two lines", "password\n123456", false},
		{"too long to be listed", "password" + strings.Repeat("x", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsCommon(tt.pw); got != tt.want {
				t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestPolicyRefusesCommonPasswords(t *testing.T) {
	p := Policy{Min: 8, Max: 128}
	err := p.Check("password1")
	if _, ok := err.(Violation); !ok {
		t.Fatalf("Check(password1) = %v, want a Violation", err)
	}
	p.AllowCommon = true
	if err := p.Check("password1"); err != nil {
		t.Fatalf("with AllowCommon, Check(password1) = %v, want nil", err)
	}
}

func BenchmarkIsCommon(b *testing.B) {
	for _, pw := range []string{"trustno1", "qZ7#vLp2!xR-not-listed"} {
		b.Run(pw, func(b *testing.B) {
			for b.Loop() {
				IsCommon(pw)
			}
		})
	}
}

func TestHasLine(t *testing.T) {
	lines := []string{"", "app", "apple", "banana", "kiwi", "mango"}
	list := strings.Join(lines, "\n") + "\n"
	for n := range len(lines) + 1 {
		// Every prefix of the list: odd and even counts, the empty list.
		part := strings.Join(lines[:n], "\n") + "\n"
		if n == 0 {
			part = ""
		}
		for i, w := range lines {
			if got := hasLine(part, w); got != (i < n) {
				t.Errorf("hasLine(%q, %q) = %v, want %v", part, w, got, i < n)
			}
		}
	}
	// A last line without its "\n" (a file an editor trimmed) is still a line.
	for _, w := range []string{"app", "kiwi", "mango"} {
		if !hasLine("app\nkiwi\nmango", w) {
			t.Errorf("hasLine without the final newline, %q = false, want true", w)
		}
	}
	if hasLine("app\nkiwi\nmango", "mang") {
		t.Error(`hasLine without the final newline, "mang" = true, want false`)
	}
	for _, absent := range []string{"a", "appl", "apples", "aaa", "cherry", "zebra", "Apple", "apple\n", "\napp"} {
		if hasLine(list, absent) {
			t.Errorf("hasLine(%q) = true, want false", absent)
		}
	}
	// Every member of the real list is found, and nothing between two
	// neighbours is.
	members := strings.Split(strings.TrimSuffix(common, "\n"), "\n")
	if len(members) != CommonCount {
		t.Fatalf("common.txt has %d lines, want %d", len(members), CommonCount)
	}
	for i, m := range members {
		if !hasLine(common, m) {
			t.Fatalf("hasLine(common, %q) = false", m)
		}
		if between := m + "\x00"; i+1 < len(members) && between < members[i+1] && hasLine(common, between) {
			t.Fatalf("hasLine(common, %q) = true", between)
		}
	}
}
