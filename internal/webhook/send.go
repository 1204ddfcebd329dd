package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The defaults of SenderConfig.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxResponse = 64 << 10
	DefaultUserAgent   = "Usher-Webhook/1"
)

// errTimeout is the cause of a request's context when its own timeout,
// rather than the caller's context, ends it.
var errTimeout = errors.New("webhook: request timed out")

// snippetMax bounds how much of a failed response's body its error quotes.
const snippetMax = 200

// SenderConfig tunes a Sender. Zero fields take the defaults.
type SenderConfig struct {
	// Timeout bounds one request, from the DNS lookup to the end of the
	// response; default 10 s.
	Timeout time.Duration
	// AllowPrivate lets webhooks reach loopback, private, link-local and
	// other internal addresses (tests; receivers on the operator's own
	// network). Off, such addresses are refused.
	AllowPrivate bool
	// MaxResponse is how much of a response body is read (and discarded)
	// before the connection is dropped; default 64 KiB.
	MaxResponse int64
	// UserAgent is sent with every request; default "Usher-Webhook/1".
	UserAgent string
}

// Sender posts signed webhooks. It is safe for concurrent use and keeps
// connections alive between requests to the same endpoint.
type Sender struct {
	c      SenderConfig
	client *http.Client
	dialer *net.Dialer
	// lookup resolves a host to its addresses; tests replace it.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewSender returns a Sender.
func NewSender(c SenderConfig) *Sender {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponse <= 0 {
		c.MaxResponse = DefaultMaxResponse
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	s := &Sender{
		c:      c,
		dialer: &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
	if !c.AllowPrivate {
		s.dialer.Control = refuseAddress
	}
	t := &http.Transport{
		// No proxy, from the environment or elsewhere: a proxy would make
		// the connection for us, past the address check.
		Proxy:                  nil,
		DialContext:            s.dial,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    c.Timeout,
		ResponseHeaderTimeout:  c.Timeout,
		MaxResponseHeaderBytes: 32 << 10,
		DisableCompression:     true, // the body is discarded; no reason to inflate it
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
	}
	s.client = &http.Client{
		Transport: t,
		// A redirect is a failure (the specification's advice): the
		// endpoint's owner should update the URL. Following one would also
		// hand the request to a URL nobody validated.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// dial resolves host, refuses it (unless AllowPrivate) if any of its
// addresses is forbidden, and connects to the addresses it checked, never
// to the name: a DNS answer that changes between the check and the
// connection (rebinding) cannot slip past. A name that resolves to both
// public and internal addresses is refused outright; it is a trick or a
// misconfiguration. The dialer's Control checks once more at the socket.
func (s *Sender) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := s.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("webhook: %s has no address", host)
	}
	if !s.c.AllowPrivate {
		for _, ip := range ips {
			if why := forbidden(ip); why != "" {
				return nil, fmt.Errorf("%w: %s resolves to %s (%s)", ErrForbiddenAddress, host, ip.Unmap(), why)
			}
		}
	}
	var first error
	tried := 0
	for _, ip := range ips {
		conn, err := s.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		tried++
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	// One line, the first failure: the relay records this text.
	if tried > 1 {
		return nil, fmt.Errorf("%w (%d addresses tried)", first, tried)
	}
	return nil, first
}

// StatusError is Send's error when the endpoint answers with a status other
// than 2xx, a redirect included (redirects are not followed).
type StatusError struct {
	StatusCode int
	// RetryAfter is the endpoint's Retry-After in seconds, zero if absent
	// or given as a date.
	RetryAfter time.Duration
	// Body is the start of the response body, at most 200 bytes, with
	// control and formatting characters replaced by spaces.
	Body string
	host string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: %s answered %d %s", e.host, e.StatusCode, http.StatusText(e.StatusCode))
	switch e.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		msg += " (redirects are not followed)"
	}
	if e.Body != "" {
		msg += ": " + strconv.Quote(e.Body)
	}
	return msg
}

// Send posts body to url, signed with secret as message id at ts, and
// reports whether the endpoint took it: nil for a 2xx answer, a
// *StatusError for any other status, an error wrapping ErrForbiddenAddress
// for a refused destination (also an usher.Invalid error for a URL that
// ValidateURL would refuse), and otherwise the transport's error (timeouts
// wrap context.DeadlineExceeded). The id must be printable ASCII without
// full stops. Its errors name the endpoint's host, never its path or
// query, and never hold the secret or the signature.
func (s *Sender) Send(ctx context.Context, url string, secret []byte, id string, ts time.Time, body []byte) error {
	u, err := checkURL(url, s.c.AllowPrivate)
	if err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if len(secret) == 0 {
		return errors.New("webhook: no secret to sign with")
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.c.Timeout, errTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: build the request to %s: %w", u.Host, unwrapURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.c.UserAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, id, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		err = unwrapURL(err)
		if context.Cause(ctx) == errTimeout {
			return fmt.Errorf("webhook: %s did not answer within %v: %w", u.Host, s.c.Timeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("webhook: post to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	// Read what the cap allows, so that a short answer leaves the
	// connection reusable; closing the body with more unread drops it.
	rest := io.LimitReader(resp.Body, s.c.MaxResponse)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, rest)
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(rest, snippetMax+1))
	_, _ = io.Copy(io.Discard, rest)
	e := &StatusError{StatusCode: resp.StatusCode, Body: snippet(head), host: u.Host}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		e.RetryAfter = time.Duration(n) * time.Second
	}
	return e
}

// unwrapURL strips the *url.Error that net/http wraps its errors in: it
// quotes the whole URL, whose path or query may hold the receiver's token.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// checkID refuses a message id the signature scheme cannot carry safely:
// the specification forbids full stops (they delimit the signed content),
// and a header value takes no control characters.
func checkID(id string) error {
	if id == "" || len(id) > 256 {
		return errors.New("webhook: a message id is 1 to 256 bytes")
	}
	for _, c := range []byte(id) {
		if c <= ' ' || c >= 0x7f || c == '.' {
			return errors.New("webhook: a message id is printable ASCII without spaces or full stops")
		}
	}
	return nil
}

// snippet renders the start of a response body for an error message: at
// most snippetMax bytes of valid UTF-8, control and formatting characters
// (terminal escapes, bidirectional overrides) replaced by single spaces,
// "…" marking a cut.
func snippet(b []byte) string {
	cut := len(b) > snippetMax
	if cut {
		b = b[:snippetMax]
	}
	var sb strings.Builder
	space := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	if cut {
		sb.WriteString("…")
	}
	return sb.String()
}
