package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
	"github.com/usherhq/usher/internal/webhook"
)

// receiver is a webhook endpoint on loopback that counts the requests it
// gets.
type receiver struct {
	*httptest.Server
	hits atomic.Int32
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		h(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func noContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func mustKey(t *testing.T, secret string) []byte {
	t.Helper()
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSendPostsASignedWebhook(t *testing.T) {
	type request struct {
		method, uri string
		header      http.Header
		body        []byte
	}
	got := make(chan request, 1)
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		got <- request{r.Method, r.RequestURI, r.Header, body}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"ok":true}`)
	})
	secret := webhook.NewSecret()
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body, err := webhook.Payload("user.created", ts, map[string]string{"id": "u1", "email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	if err := s.Send(t.Context(), rcv.URL+"/hooks/usher?token=abc", mustKey(t, secret), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, body); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := <-got
	checks := []struct{ name, got, want string }{
		{"method", r.method, http.MethodPost},
		{"request URI", r.uri, "/hooks/usher?token=abc"},
		{"Content-Type", r.header.Get("Content-Type"), "application/json"},
		{"User-Agent", r.header.Get("User-Agent"), "Usher-Webhook/1"},
		{"webhook-id", r.header.Get("webhook-id"), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
		{"webhook-timestamp", r.header.Get("webhook-timestamp"), "1772366400"},
		{"body", string(r.body), string(body)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !specVerify(t, secret, r.header.Get("webhook-id"), r.header.Get("webhook-timestamp"), r.header.Get("webhook-signature"), r.body) {
		t.Errorf("the independent check refuses webhook-signature %q", r.header.Get("webhook-signature"))
	}
}

func TestSendRefusesInternalAddresses(t *testing.T) {
	rcv := newReceiver(t, noContent)
	port := rcv.Listener.Addr().(*net.TCPAddr).Port
	at := func(host string) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/hook" }
	tests := []struct {
		name   string
		url    string
		atDial bool // refused only once the name is resolved, not by the URL check
	}{
		{"loopback", at("127.0.0.1"), false},
		{"IPv6 loopback", at("::1"), false},
		{"IPv4-mapped IPv6 loopback", at("::ffff:127.0.0.1"), false},
		{"NAT64 of loopback", at("64:ff9b::7f00:1"), false},
		{"unspecified", at("0.0.0.0"), false},
		{"private", at("10.0.0.1"), false},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/iam/", false},
		{"a name that resolves to loopback", at("localhost"), true},
	}
	s := webhook.NewSender(webhook.SenderConfig{Timeout: 5 * time.Second})
	key := mustKey(t, webhook.NewSecret())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(t.Context(), tt.url, key, "msg_1", time.Now(), []byte(`{}`))
			if !errors.Is(err, webhook.ErrForbiddenAddress) {
				t.Fatalf("Send = %v, want ErrForbiddenAddress", err)
			}
			if atDial := usher.ErrorCode(err) != usher.Invalid; atDial != tt.atDial {
				t.Errorf("refused at connect time: %v, want %v (%v)", atDial, tt.atDial, err)
			}
		})
	}
	if n := rcv.hits.Load(); n != 0 {
		t.Errorf("the receiver on loopback got %d requests, want 0", n)
	}
}

func TestSendChecksEveryResolvedAddressAndConnectsToIt(t *testing.T) {
	rcv := newReceiver(t, noContent)
	port := rcv.Listener.Addr().(*net.TCPAddr).Port
	var lookups atomic.Int32
	resolve := func(answer ...string) func(context.Context, string) ([]netip.Addr, error) {
		return func(_ context.Context, host string) ([]netip.Addr, error) {
			lookups.Add(1)
			if host != "hooks.example.test" {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			var ips []netip.Addr
			for _, a := range answer {
				ips = append(ips, netip.MustParseAddr(a))
			}
			return ips, nil
		}
	}
	u := "http://hooks.example.test:" + strconv.Itoa(port) + "/hook"
	key := mustKey(t, webhook.NewSecret())

	// A public address beside an internal one: refused before any
	// connection, not raced.
	guarded := webhook.NewSender(webhook.SenderConfig{})
	webhook.SetLookup(guarded, resolve("8.8.8.8", "127.0.0.1"))
	if err := guarded.Send(t.Context(), u, key, "msg_1", time.Now(), []byte(`{}`)); !errors.Is(err, webhook.ErrForbiddenAddress) {
		t.Fatalf("Send to a name with a loopback address = %v, want ErrForbiddenAddress", err)
	}
	webhook.SetLookup(guarded, resolve("::ffff:10.9.8.7"))
	if err := guarded.Send(t.Context(), u, key, "msg_1", time.Now(), []byte(`{}`)); !errors.Is(err, webhook.ErrForbiddenAddress) {
		t.Fatalf("Send to a name with an IPv4-mapped private address = %v, want ErrForbiddenAddress", err)
	}
	if n := rcv.hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests, want 0", n)
	}

	// The connection goes to the address checked, resolved once per
	// attempt: the name itself exists nowhere but in the test's resolver,
	// so nothing else can have resolved it again.
	open := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	webhook.SetLookup(open, resolve("127.0.0.1"))
	lookups.Store(0)
	if err := open.Send(t.Context(), u, key, "msg_1", time.Now(), []byte(`{}`)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := rcv.hits.Load(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

func TestSendRefusesURLsValidateURLRefuses(t *testing.T) {
	rcv := newReceiver(t, noContent)
	host := rcv.Listener.Addr().String()
	s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	key := mustKey(t, webhook.NewSecret())
	for _, u := range []string{
		"ftp://" + host + "/",
		"http://user:password@" + host + "/",
		"//" + host + "/",
		"http://127.1:" + strings.Split(host, ":")[1] + "/",
	} {
		err := s.Send(t.Context(), u, key, "msg_1", time.Now(), []byte(`{}`))
		if usher.ErrorCode(err) != usher.Invalid {
			t.Errorf("Send(%q) = %v, want code %q", u, err, usher.Invalid)
		}
	}
	for _, id := range []string{"", "msg.1", "msg 1", "msg\r\nX-Injected: 1"} {
		if err := s.Send(t.Context(), rcv.URL, key, id, time.Now(), []byte(`{}`)); err == nil {
			t.Errorf("Send with id %q succeeded, want an error", id)
		}
	}
	if n := rcv.hits.Load(); n != 0 {
		t.Errorf("the receiver got %d requests, want 0", n)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	target := newReceiver(t, noContent)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", code)
		})
		s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
		err := s.Send(t.Context(), redirector.URL, mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`))
		var se *webhook.StatusError
		if !errors.As(err, &se) || se.StatusCode != code {
			t.Errorf("Send to a %d redirect = %v, want a StatusError of %d", code, err, code)
		}
	}
	if n := target.hits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

func TestSendTimesOut(t *testing.T) {
	// The handlers stall until the test ends (the server notices no closed
	// connection while the request body is unread).
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
		want    func(error) bool
	}{
		{"no answer", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-release }
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"headers, then a stalled body", func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				<-release
			}
		}, func(err error) bool { return isStatus(err, http.StatusInternalServerError) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			rcv := newReceiver(t, tt.handler(release))
			t.Cleanup(func() { close(release) }) // before the server closes
			s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true, Timeout: 200 * time.Millisecond})
			err := s.Send(t.Context(), rcv.URL, mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`))
			if !tt.want(err) {
				t.Fatalf("Send = %v", err)
			}
		})
	}
}

func isStatus(err error, code int) bool {
	var se *webhook.StatusError
	return errors.As(err, &se) && se.StatusCode == code
}

func TestSendStopsReadingAHugeResponse(t *testing.T) {
	const huge = 1 << 30
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			finished := make(chan bool, 1)
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				chunk := []byte(strings.Repeat("x", 32<<10))
				for sent := 0; sent < huge; sent += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						finished <- false
						return
					}
				}
				finished <- true
			})
			// A long timeout: only the cap can end the read early.
			s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true, Timeout: time.Minute, MaxResponse: 1 << 10})
			err := s.Send(t.Context(), rcv.URL, mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`))
			if status == http.StatusOK && err != nil || status != http.StatusOK && !isStatus(err, status) {
				t.Fatalf("Send = %v, want status %d", err, status)
			}
			if <-finished {
				t.Errorf("the receiver wrote all %d bytes; Send read past its cap", huge)
			}
			var se *webhook.StatusError
			if errors.As(err, &se) && len(se.Body) > 200+len("…") {
				t.Errorf("the error quotes %d bytes of the body, want at most 200", len(se.Body))
			}
		})
	}
}

func TestSendReportsAStatusOtherThan2xx(t *testing.T) {
	tests := []struct {
		status     int
		body       string
		retryAfter string
		want       webhook.StatusError
	}{
		{http.StatusBadRequest, "missing field", "", webhook.StatusError{StatusCode: 400, Body: "missing field"}},
		{http.StatusNotFound, "", "", webhook.StatusError{StatusCode: 404}},
		{http.StatusGone, "gone", "", webhook.StatusError{StatusCode: 410, Body: "gone"}},
		{http.StatusTooManyRequests, "slow down", "120", webhook.StatusError{StatusCode: 429, Body: "slow down", RetryAfter: 2 * time.Minute}},
		{http.StatusServiceUnavailable, "", "Wed, 21 Oct 2015 07:28:00 GMT", webhook.StatusError{StatusCode: 503}},
		{http.StatusInternalServerError, "oops\x1b[31m red\r\nInjected: header\x00\u202eevil\xff",
			"", webhook.StatusError{StatusCode: 500, Body: "oops [31m red Injected: header evil"}},
		{http.StatusInternalServerError, strings.Repeat("é", 150),
			"", webhook.StatusError{StatusCode: 500, Body: strings.Repeat("é", 100) + "…"}},
		{http.StatusNotModified, "", "", webhook.StatusError{StatusCode: 304}},
		{http.StatusMultipleChoices, "", "", webhook.StatusError{StatusCode: 300}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			var signature atomic.Value
			rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				signature.Store(r.Header.Get("webhook-signature"))
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			secret := webhook.NewSecret()
			s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
			err := s.Send(t.Context(), rcv.URL+"/in?token=receiver-token", mustKey(t, secret), "msg_1", time.Now(), []byte(`{}`))
			var se *webhook.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *StatusError", err)
			}
			if se.StatusCode != tt.want.StatusCode || se.Body != tt.want.Body || se.RetryAfter != tt.want.RetryAfter {
				t.Errorf("StatusError{%d, %q, %v}, want {%d, %q, %v}", se.StatusCode, se.Body, se.RetryAfter,
					tt.want.StatusCode, tt.want.Body, tt.want.RetryAfter)
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(tt.status)) {
				t.Errorf("error %q does not name the status %d", msg, tt.status)
			}
			sig, _ := signature.Load().(string)
			for _, leak := range []string{strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(sig, "v1,"), "receiver-token"} {
				if leak != "" && strings.Contains(msg, leak) {
					t.Errorf("error %q holds %q", msg, leak)
				}
			}
			for _, c := range msg {
				if c < ' ' || c == 0x7f {
					t.Errorf("error %q holds control character %U", msg, c)
				}
			}
		})
	}
}

func TestSendErrorsDoNotQuoteThePathOrQuery(t *testing.T) {
	// A port nothing listens on: take one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	err = s.Send(t.Context(), "http://"+addr+"/in/path-token?token=query-token", mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`))
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	var ue *url.Error
	if errors.As(err, &ue) || strings.Contains(err.Error(), "token") {
		t.Errorf("error %q quotes the URL", err)
	}
}

func TestSendHonoursTheCallersContext(t *testing.T) {
	release := make(chan struct{})
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	if err := s.Send(ctx, rcv.URL, mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a canceled context = %v, want context.Canceled", err)
	}
}

func TestSenderUsesNoProxy(t *testing.T) {
	proxy := newReceiver(t, noContent)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	rcv := newReceiver(t, noContent)
	s := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	if webhook.TransportOf(s).Proxy != nil {
		t.Fatal("the transport has a Proxy function")
	}
	// Through a name, as ProxyFromEnvironment never proxies loopback.
	webhook.SetLookup(s, func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	u := "http://hooks.example.test:" + strconv.Itoa(rcv.Listener.Addr().(*net.TCPAddr).Port) + "/"
	if err := s.Send(t.Context(), u, mustKey(t, webhook.NewSecret()), "msg_1", time.Now(), []byte(`{}`)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if proxy.hits.Load() != 0 || rcv.hits.Load() != 1 {
		t.Errorf("proxy got %d requests, receiver %d; want 0 and 1", proxy.hits.Load(), rcv.hits.Load())
	}
}
