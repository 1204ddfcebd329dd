package password

import (
	"strings"
	"testing"
)

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
		{"a passphrase", "correct horse battery staple", false},
		{"random", "qZ7#vLp2!xR", false},
		{"too long to be listed", "password" + strings.Repeat("x", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsCommon(tt.pw); got != tt.want {
				t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
	if n := common.Len(); n != CommonCount {
		t.Errorf("list holds %d passwords, want %d", n, CommonCount)
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

func TestPackedList(t *testing.T) {
	l := pack([]string{"mango", "apple", "kiwi", "apple", "", "banana", "app"})
	want := []string{"", "app", "apple", "banana", "kiwi", "mango"}
	if l.Len() != len(want) {
		t.Fatalf("Len() = %d, want %d (sorted, duplicates dropped)", l.Len(), len(want))
	}
	for i, w := range want {
		if got := l.at(i); got != w {
			t.Errorf("at(%d) = %q, want %q", i, got, w)
		}
		if !l.contains(w) {
			t.Errorf("contains(%q) = false, want true", w)
		}
	}
	for _, absent := range []string{"a", "appl", "apples", "aaa", "cherry", "zebra", "Apple"} {
		if l.contains(absent) {
			t.Errorf("contains(%q) = true, want false", absent)
		}
	}
	if empty := pack(nil); empty.contains("") || empty.Len() != 0 {
		t.Errorf("the empty list contains the empty string or has entries")
	}
}
