package mail

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

func TestDefaultTemplates(t *testing.T) {
	tpl, err := LoadTemplates("", "https://auth.example.com/", 30*time.Minute, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, subject string
		p             usher.MailParams
		want          []string // in both the text and the HTML part
	}{
		{usher.MailReset, "Your password reset code", usher.MailParams{Email: "a@x.com", Code: "7KQ2M9XH4C"}, []string{"7KQ2M9XH4C", "30 minutes"}},
		{usher.MailPasswordChanged, "Your password was changed", usher.MailParams{Email: "a@x.com"}, []string{"a@x.com"}},
		{usher.MailVerify, "Account Verification", usher.MailParams{Email: "a+b@x.com", Token: "tok_1"},
			[]string{"https://auth.example.com/verify?email=a%2Bb%40x.com", "token=tok_1", "response_type=html", "24 hours"}},
		{usher.MailVerify, "Account Verification", usher.MailParams{Email: "t@x.com", Token: "tok_2", Tenant: "0199f5d2-7c41-7b8e-9a53-0e4f5d6c7b8a"},
			[]string{"tenant=0199f5d2-7c41-7b8e-9a53-0e4f5d6c7b8a", "token=tok_2"}},
		{usher.MailEmailChange, "Confirm your new email address", usher.MailParams{Email: "new+1@x.com", Token: "tok_3"},
			[]string{"https://auth.example.com/verify/email?email=new%2B1%40x.com", "token=tok_3", "response_type=html", "1@x.com", "24 hours"}},
		{usher.MailEmailChange, "Confirm your new email address", usher.MailParams{Email: "n@x.com", Token: "tok_4", Tenant: "0199f5d2-7c41-7b8e-9a53-0e4f5d6c7b8a"},
			[]string{"/verify/email?", "tenant=0199f5d2-7c41-7b8e-9a53-0e4f5d6c7b8a", "token=tok_4"}},
		{usher.MailEmailChangeRequested, "A change of your email address was requested", usher.MailParams{Email: "old@x.com"},
			[]string{"old@x.com", "change your password"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			e, err := tpl.Render(tt.kind, "a@x.com", tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", e.Subject, tt.subject)
			}
			for _, w := range tt.want {
				// html/template escapes & in the link; compare unescaped.
				if !strings.Contains(e.Text, w) || !strings.Contains(strings.ReplaceAll(e.HTML, "&amp;", "&"), w) {
					t.Errorf("%q missing from the text or HTML part:\n%s\n%s", w, e.Text, e.HTML)
				}
			}
		})
	}
	// The notice to the old address carries no link, and says nothing of
	// a token even when one were given.
	e, err := tpl.Render(usher.MailEmailChangeRequested, "old@x.com", usher.MailParams{Email: "old@x.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{e.Text, e.HTML} {
		if strings.Contains(part, "http") || strings.Contains(part, "token") {
			t.Errorf("the email-change notice holds a link:\n%s", part)
		}
	}
	if _, err := tpl.Render("unknown", "a@x.com", usher.MailParams{}); err == nil {
		t.Error("an unknown kind rendered")
	}
}

func TestTemplatesFromADirectoryReplaceTheDefaults(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("verify_email.subject", "Welcome aboard, {{.Email}}")
	write("verify_email.html", `<a href="{{.Link}}">Confirm</a> <script>{{.Email}}</script>`)
	tpl, err := LoadTemplates(dir, "https://auth.example.com", time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e, err := tpl.Render(usher.MailVerify, "x@y.com", usher.MailParams{Email: "x@y.com", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Welcome aboard, x@y.com" {
		t.Errorf("subject = %q, want the override", e.Subject)
	}
	if !strings.Contains(e.HTML, "Confirm") {
		t.Errorf("HTML = %q, want the override", e.HTML)
	}
	if !strings.Contains(e.Text, "Please confirm") {
		t.Errorf("text = %q, want the default (no override given)", e.Text)
	}

	write("password_reset.txt", "{{.Nope}}")
	if _, err := LoadTemplates(dir, "https://auth.example.com", time.Minute, time.Hour); err == nil {
		// A field that does not exist fails when rendering, at the latest.
		tpl, _ := LoadTemplates(dir, "https://auth.example.com", time.Minute, time.Hour)
		if _, err := tpl.Render(usher.MailReset, "x@y.com", usher.MailParams{Email: "x@y.com", Code: "C"}); err == nil {
			t.Error("a template naming an unknown field rendered")
		}
	}
}

func TestLogSenderPrintsTheMessage(t *testing.T) {
	var out bytes.Buffer
	err := NewLogSender(&out).Send(context.Background(), Email{To: "a@x.com", Subject: "S", Text: "code 123\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"To: a@x.com", "Subject: S", "code 123"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("%q missing from:\n%s", w, out.String())
		}
	}
}

func TestTemplateDirectoryMistakesAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		files []string // created in the directory; nil with missing
		dir   func(t *testing.T) string
		want  []string // in the error; none for no error
	}{
		{name: "missing directory", dir: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			want: []string{"mail-templates", "does not exist"}},
		{name: "misspelt kind", files: []string{"verify.subject"},
			want: []string{`"verify.subject"`, "verify_email.subject", "password_reset.txt"}},
		{name: "wrong extension", files: []string{"password_reset.text", "password_reset.html"},
			want: []string{`"password_reset.text"`, "expected names"}},
		{name: "every name known", files: []string{"verify_email.subject", "password_changed.txt", "password_reset.html",
			"email_change.subject", "email_change.txt", "email_change_requested.html"}},
		{name: "misspelt email-change kind", files: []string{"email_changed.txt"},
			want: []string{`"email_changed.txt"`, "email_change.txt", "email_change_requested.subject"}},
		{name: "hidden files ignored", files: []string{".gitkeep", ".DS_Store"}},
		{name: "empty directory", files: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.dir != nil {
				dir = tt.dir(t)
			}
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("{{.Email}}"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadTemplates(dir, "https://auth.example.com", time.Minute, time.Hour)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("LoadTemplates: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadTemplates: got nil, want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestVerbatimVerificationEmail(t *testing.T) {
	tpl, err := LoadTemplates("", "https://auth.example.com", time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tpl.SetVerbatim(usher.MailVerify, Verbatim{
		Subject: "Welcome to Acme", Placeholder: "CODEGEN-URL",
		Text: "Open CODEGEN-URL to confirm. {{not a template}}", HTML: `<a href="CODEGEN-URL">confirm</a>`,
	})
	e, err := tpl.Render(usher.MailVerify, "sam@example.com", usher.MailParams{Email: "sam@example.com", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	link := "https://auth.example.com/verify?email=sam%40example.com&response_type=html&token=tok"
	if e.Subject != "Welcome to Acme" {
		t.Errorf("subject %q", e.Subject)
	}
	if want := "Open " + link + " to confirm. {{not a template}}"; e.Text != want {
		t.Errorf("text %q, want %q", e.Text, want)
	}
	if want := `<a href="` + strings.ReplaceAll(link, "&", "&amp;") + `">confirm</a>`; e.HTML != want {
		t.Errorf("html %q, want %q", e.HTML, want)
	}
	// Other kinds keep their templates.
	r, err := tpl.Render(usher.MailReset, "sam@example.com", usher.MailParams{Email: "sam@example.com", Code: "ABCD2345"})
	if err != nil || r.Subject == "Welcome to Acme" || !strings.Contains(r.Text, "ABCD2345") {
		t.Errorf("reset email changed: %+v, %v", r, err)
	}
	// An empty part keeps the template's.
	tpl.SetVerbatim(usher.MailVerify, Verbatim{Subject: "Only the subject", Placeholder: "CODEGEN-URL"})
	e, _ = tpl.Render(usher.MailVerify, "sam@example.com", usher.MailParams{Email: "sam@example.com", Token: "tok"})
	if !strings.Contains(e.Text, link) || !strings.Contains(e.HTML, "verify?") {
		t.Errorf("template parts lost: %+v", e)
	}
}
