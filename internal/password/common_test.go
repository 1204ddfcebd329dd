package password

import "testing"

func TestIsCommon(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"top of the list", "password", true},
		{"case ignored", "PassWord1", true},
		{"deep in the list", "trustno1", true},
		{"a passphrase", "correct horse battery staple", false},
		{"random", "qZ7#vLp2!xR", false},
		{"too long to be listed", string(make([]byte, 100)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsCommon(tt.pw); got != tt.want {
				t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
	if n := len(common()); n != CommonCount {
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
