// Package mail renders Usher's emails from templates and sends them, over
// SMTP or, in development, to a terminal.
package mail

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	htmlstd "html"
	htmltemplate "html/template"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/usherhq/usher/internal/usher"
)

//go:embed templates/*
var defaults embed.FS

// Kinds are the message kinds Usher sends; each has a subject, a text and
// an HTML template.
var Kinds = []string{usher.MailReset, usher.MailPasswordChanged, usher.MailVerify,
	usher.MailEmailChange, usher.MailEmailChangeRequested}

// Email is a rendered message.
type Email struct {
	To, Subject, Text, HTML string
}

// Templates render messages. Links are built from the configured public
// base URL, never from a request.
type Templates struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
	// PublicURL is the base of links in emails, e.g. https://auth.example.com.
	publicURL string
	codeTTL   time.Duration
	linkTTL   time.Duration
	verbatim  map[string]Verbatim
}

// Verbatim replaces parts of one kind of message with text used as
// written, the way Thunder's messageOptions are: the link goes in place
// of Placeholder (HTML-escaped in the HTML body). An empty field keeps the
// template's part.
type Verbatim struct {
	Subject     string
	Text, HTML  string
	Placeholder string
}

// SetVerbatim makes messages of kind use v. It is set once, before the
// templates are used.
func (t *Templates) SetVerbatim(kind string, v Verbatim) {
	if t.verbatim == nil {
		t.verbatim = map[string]Verbatim{}
	}
	t.verbatim[kind] = v
}

// LoadTemplates parses the default templates, replaced by any file of the
// same name (e.g. password_reset.txt, password_reset.html,
// password_reset.subject) in dir, if dir is not empty. A dir that does not
// exist, or that holds a file of any other name (hidden files excepted), is
// refused: a misspelt override would otherwise be ignored in silence.
func LoadTemplates(dir, publicURL string, codeTTL, linkTTL time.Duration) (*Templates, error) {
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
	}
	t := &Templates{
		subject: map[string]*texttemplate.Template{}, text: map[string]*texttemplate.Template{},
		html: map[string]*htmltemplate.Template{}, publicURL: strings.TrimRight(publicURL, "/"),
		codeTTL: codeTTL, linkTTL: linkTTL,
	}
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return "", err
			}
		}
		b, err := defaults.ReadFile("templates/" + name)
		return string(b), err
	}
	for _, kind := range Kinds {
		var err error
		var src string
		if src, err = read(kind + ".subject"); err == nil {
			t.subject[kind], err = texttemplate.New(kind + ".subject").Option("missingkey=error").Parse(strings.TrimSpace(src))
		}
		if err == nil {
			if src, err = read(kind + ".txt"); err == nil {
				t.text[kind], err = texttemplate.New(kind + ".txt").Option("missingkey=error").Parse(src)
			}
		}
		if err == nil {
			if src, err = read(kind + ".html"); err == nil {
				t.html[kind], err = htmltemplate.New(kind + ".html").Option("missingkey=error").Parse(src)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("mail templates: %s: %w", kind, err)
		}
	}
	return t, nil
}

// FileNames are the names a template directory may hold: KIND.subject,
// KIND.txt and KIND.html for each kind.
func FileNames() []string {
	var names []string
	for _, kind := range Kinds {
		names = append(names, kind+".subject", kind+".txt", kind+".html")
	}
	return names
}

// checkDir refuses a template directory that is missing or holds a file
// that no template is read from. Hidden files (.gitkeep, .DS_Store) are
// left alone.
func checkDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("invalid setting mail-templates: directory %s does not exist", dir)
		}
		return fmt.Errorf("invalid setting mail-templates: %w", err)
	}
	known := map[string]bool{}
	for _, n := range FileNames() {
		known[n] = true
	}
	var unknown []string
	for _, e := range entries {
		if !known[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			unknown = append(unknown, e.Name())
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("invalid setting mail-templates: %s holds %s, which is no template name; expected names: %s",
			dir, quoteList(unknown), strings.Join(FileNames(), ", "))
	}
	return nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// data is what templates see.
type data struct {
	Email   string
	Code    string
	Link    string
	CodeTTL string
	LinkTTL string
}

// VerifyLink returns the email verification link for an address and token,
// and the tenant of the user when it is not the default one.
func (t *Templates) VerifyLink(email, tok, tenant string) string {
	q := url.Values{"email": {email}, "token": {tok}, "response_type": {"html"}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	return t.publicURL + "/verify?" + q.Encode()
}

// EmailChangeLink returns the link that applies a requested email change:
// the new address, the change's token, and the tenant of the user when it
// is not the default one.
func (t *Templates) EmailChangeLink(email, tok, tenant string) string {
	q := url.Values{"email": {email}, "token": {tok}, "response_type": {"html"}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	return t.publicURL + "/verify/email?" + q.Encode()
}

// Render renders a message of kind to to.
func (t *Templates) Render(kind, to string, p usher.MailParams) (Email, error) {
	subj, ok := t.subject[kind]
	if !ok {
		return Email{}, fmt.Errorf("mail: no template for %q", kind)
	}
	d := data{Email: p.Email, Code: p.Code, CodeTTL: human(t.codeTTL), LinkTTL: human(t.linkTTL)}
	switch {
	case p.Token == "":
	case kind == usher.MailEmailChange:
		d.Link = t.EmailChangeLink(p.Email, p.Token, p.Tenant)
	default:
		d.Link = t.VerifyLink(p.Email, p.Token, p.Tenant)
	}
	var s, txt, html bytes.Buffer
	if err := subj.Execute(&s, d); err != nil {
		return Email{}, err
	}
	if err := t.text[kind].Execute(&txt, d); err != nil {
		return Email{}, err
	}
	if err := t.html[kind].Execute(&html, d); err != nil {
		return Email{}, err
	}
	e := Email{To: to, Subject: strings.TrimSpace(s.String()), Text: txt.String(), HTML: html.String()}
	if v, ok := t.verbatim[kind]; ok {
		if v.Subject != "" {
			e.Subject = v.Subject
		}
		if v.Text != "" {
			e.Text = strings.ReplaceAll(v.Text, v.Placeholder, d.Link)
		}
		if v.HTML != "" {
			e.HTML = strings.ReplaceAll(v.HTML, v.Placeholder, htmlstd.EscapeString(d.Link))
		}
	}
	return e, nil
}

func human(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// Sender delivers rendered emails.
type Sender interface {
	Send(ctx context.Context, e Email) error
}

// SMTP is an SMTP server's settings.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "starttls" (required), "implicit" (TLS from the first byte,
	// usually port 465) or "none" (only for a relay on the same host).
	TLS     string
	From    string
	Timeout time.Duration
}

// SMTPSender sends through an SMTP server.
type SMTPSender struct{ c SMTP }

// NewSMTPSender returns a sender for c.
func NewSMTPSender(c SMTP) *SMTPSender { return &SMTPSender{c: c} }

// Send delivers e.
func (s *SMTPSender) Send(ctx context.Context, e Email) error {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(s.c.From); err != nil {
		return fmt.Errorf("mail: from address: %w", err)
	}
	if err := m.To(e.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	m.Subject(e.Subject)
	m.SetDate()
	m.SetMessageID()
	m.SetBodyString(gomail.TypeTextPlain, e.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, e.HTML)

	opts := []gomail.Option{gomail.WithPort(s.c.Port), gomail.WithTimeout(s.c.Timeout)}
	switch s.c.TLS {
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.c.Username), gomail.WithPassword(s.c.Password))
	}
	client, err := gomail.NewClient(s.c.Host, opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, m)
}

// LogSender prints each email to a writer instead of sending it: the
// development default, so a newcomer sees reset codes and links in the
// terminal. It is never used when SMTP is configured.
type LogSender struct {
	mu  sync.Mutex
	out io.Writer
}

// NewLogSender returns a LogSender writing to out.
func NewLogSender(out io.Writer) *LogSender { return &LogSender{out: out} }

// Send prints e.
func (l *LogSender) Send(_ context.Context, e Email) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := fmt.Fprintf(l.out, "\n----- email (development: no SMTP server configured) -----\nTo: %s\nSubject: %s\n\n%s\n-----\n",
		e.To, e.Subject, strings.TrimSpace(e.Text))
	return err
}

// Deliver returns the function the outbox relay calls for each message: it
// opens the message's sealed params with box, renders the message and
// sends it.
func Deliver(box usher.Sealer, t *Templates, s Sender) func(context.Context, usher.Message) error {
	return func(ctx context.Context, m usher.Message) error {
		p, err := m.OpenParams(box)
		if err != nil {
			return err
		}
		e, err := t.Render(m.Kind, m.To, p)
		if err != nil {
			return err
		}
		return s.Send(ctx, e)
	}
}
