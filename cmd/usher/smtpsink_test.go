package main

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server inside the test that records what it
// receives. Stop and Restart simulate an SMTP outage on the same port.
type smtpSink struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	msgs     []sinkMessage
	arrived  chan struct{} // signalled on every message
	srv      *smtp.Server
	stopped  bool
	serveErr chan error
}

// sinkMessage is one received email.
type sinkMessage struct {
	From string
	To   []string
	Raw  []byte
}

// startSMTPSink starts a sink on a free loopback port; it stops when the
// test ends.
func startSMTPSink(t testing.TB) *smtpSink {
	t.Helper()
	s := &smtpSink{t: t, arrived: make(chan struct{}, 1024)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *smtpSink) serve(ln net.Listener) {
	srv := smtp.NewServer(sinkBackend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.srv, s.stopped = srv, false
	s.serveErr = make(chan error, 1)
	errc := s.serveErr
	s.mu.Unlock()
	go func() { errc <- srv.Serve(ln) }()
}

// Host and Port are what Usher's smtp-host and smtp-port take.
func (s *smtpSink) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port returns the sink's port.
func (s *smtpSink) Port() int { return s.addr2port() }

func (s *smtpSink) addr2port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

// Configure points m's mail settings at the sink (plain SMTP on loopback).
func (s *smtpSink) Configure(m *Main) {
	m.Config.SMTPHost, m.Config.SMTPPort, m.Config.SMTPTLS = s.Host(), s.Port(), "none"
}

// Stop closes the sink; connections to its port are refused until Restart.
func (s *smtpSink) Stop() {
	s.mu.Lock()
	srv, stopped, errc := s.srv, s.stopped, s.serveErr
	s.stopped = true
	s.mu.Unlock()
	if stopped {
		return
	}
	srv.Close()
	<-errc
}

// Restart serves again on the same port.
func (s *smtpSink) Restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("smtp sink restart: %v", err)
	}
	s.serve(ln)
}

// Messages returns what the sink has received so far.
func (s *smtpSink) Messages() []sinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMessage(nil), s.msgs...)
}

// Count returns how many received messages went to rcpt with subject.
func (s *smtpSink) Count(rcpt, subject string) int {
	n := 0
	for _, m := range s.Messages() {
		if m.Has(rcpt) && strings.Contains(m.Subject(), subject) {
			n++
		}
	}
	return n
}

// mailWait bounds every wait for an email.
const mailWait = 15 * time.Second

// Subjects of Usher's emails.
const (
	resetSubject   = "Your password reset code"
	changedSubject = "Your password was changed"
	verifySubject  = "Account Verification"
)

// waitMessages waits until rcpt has received n messages whose subject
// contains subject, and returns them in arrival order.
func (s *smtpSink) waitMessages(t testing.TB, rcpt, subject string, n int) []sinkMessage {
	t.Helper()
	deadline := time.NewTimer(mailWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var got []sinkMessage
		for _, m := range s.Messages() {
			if m.Has(rcpt) && strings.Contains(m.Subject(), subject) {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%d of %d emails to %s with subject %q within %s", len(got), n, rcpt, subject, mailWait)
		}
	}
}

// verifyLink waits until n verification emails to rcpt have arrived and
// returns the link of the n-th, which must point at publicBase.
func (s *smtpSink) verifyLink(t testing.TB, publicBase, rcpt string, n int) *url.URL {
	t.Helper()
	m := s.waitMessages(t, rcpt, verifySubject, n)[n-1]
	if got, want := m.Subject(), verifySubject; got != want {
		t.Errorf("subject: got %q, want %q", got, want)
	}
	text := m.Part("text/plain")
	prefix := publicBase + "/verify?"
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, prefix) {
			u, err := url.Parse(line)
			if err != nil {
				t.Fatalf("link %q: %v", line, err)
			}
			return u
		}
	}
	t.Fatalf("no link starting %q in the text part:\n%s", prefix, text)
	return nil
}

// resetCodeLine finds the reset code: a line holding only the code.
var resetCodeLine = regexp.MustCompile(`(?m)^\s*([2-9A-HJKMNP-Z]{10})\s*$`)

// resetCode returns the reset code in a reset email's text part.
func (m sinkMessage) resetCode(t testing.TB) string {
	t.Helper()
	text := m.Part("text/plain")
	found := resetCodeLine.FindAllStringSubmatch(text, -1)
	if len(found) != 1 {
		t.Fatalf("want exactly one reset code in the text part, found %d:\n%s", len(found), text)
	}
	return found[0][1]
}

// requestResetCode asks the public surface for a reset of email and
// returns the code that arrives by SMTP; it is the nth reset email to that
// address.
func (s *smtpSink) requestResetCode(t testing.TB, pub *publicClient, email string, nth int) string {
	t.Helper()
	pub.passwordSend(t, email).wantTrue(t, "password/send "+email)
	return s.waitMessages(t, email, resetSubject, nth)[nth-1].resetCode(t)
}

// Has reports whether m was addressed to rcpt (case-insensitively).
func (m sinkMessage) Has(rcpt string) bool {
	for _, to := range m.To {
		if strings.EqualFold(to, rcpt) {
			return true
		}
	}
	return false
}

// Subject returns the decoded Subject header.
func (m sinkMessage) Subject() string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return ""
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return msg.Header.Get("Subject")
	}
	return subj
}

// Part returns the decoded body part of the given media type (text/plain,
// text/html), from a single-part or multipart message.
func (m sinkMessage) Part(mediaType string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return ""
	}
	return findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, mediaType)
}

func findPart(contentType, encoding string, body io.Reader, want string) string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if got := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want); got != "" {
				return got
			}
		}
	}
	if mt != want {
		return ""
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	return string(b)
}

type sinkBackend struct{ s *smtpSink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: b.s}, nil }

type sinkSession struct {
	s    *smtpSink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(ss.to) == 0 {
		return errors.New("no recipients")
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMessage{From: ss.from, To: ss.to, Raw: raw})
	ss.s.mu.Unlock()
	select {
	case ss.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

// TestSMTPSinkDeliversUshersMail checks the sink itself with Usher's
// relay: a reset code sent through the public surface arrives over SMTP.
func TestSMTPSinkDeliversUshersMail(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	if _, err := s.Accounts.Create(t.Context(), s.Tenant.ID, testNewUser("sink@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts.SendReset(t.Context(), s.Tenant.ID, "sink@example.com"); err != nil {
		t.Fatal(err)
	}
	m := sink.waitMessages(t, "sink@example.com", "reset", 1)[0]
	if text := m.Part("text/plain"); !strings.Contains(text, "reset code") {
		t.Fatalf("text part does not hold the code:\n%s", text)
	}
	if html := m.Part("text/html"); !strings.Contains(html, "<html>") {
		t.Fatalf("no HTML part:\n%s", html)
	}
}
