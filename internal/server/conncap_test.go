package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// capServer accepts on a capped loopback listener and holds every accepted
// connection open until the client closes it.
func capServer(t *testing.T, caps Caps) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := newCapListener(ln, "test", caps, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { cl.Close() })
	go func() {
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("hi"))
				io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

// dial opens a connection and reports whether the server kept it: a kept
// connection gets the greeting, a refused one is closed unread.
func dial(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	_, err = io.ReadFull(c, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	return c, err == nil
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func TestCapPerAddress(t *testing.T) {
	addr := capServer(t, Caps{PerIP: 2})
	first, ok1 := dial(t, addr)
	_, ok2 := dial(t, addr)
	if !ok1 || !ok2 {
		t.Fatalf("connections within the cap refused: %v %v", ok1, ok2)
	}
	if _, ok := dial(t, addr); ok {
		t.Error("a third connection from one address was kept")
	}
	first.Close()
	// The closed connection's place comes back once the server sees EOF.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, ok := dial(t, addr); ok {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's place never came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCapTotal(t *testing.T) {
	addr := capServer(t, Caps{Total: 1})
	if _, ok := dial(t, addr); !ok {
		t.Fatal("the first connection was refused")
	}
	if _, ok := dial(t, addr); ok {
		t.Error("a connection over the total cap was kept")
	}
}

func TestCapTrustedAddressesHaveNoPerAddressCap(t *testing.T) {
	addr := capServer(t, Caps{PerIP: 1, Trust: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for i := range 3 {
		if _, ok := dial(t, addr); !ok {
			t.Fatalf("connection %d from a trusted proxy refused", i)
		}
	}
}

func TestCapKeyIPv6Prefix(t *testing.T) {
	l := &capListener{caps: Caps{Trust: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for addr, want := range map[string]struct {
		key     string
		counted bool
	}{
		"[2001:db8:1:2::1]:80":      {"2001:db8:1:2::/64", true},
		"[2001:db8:1:2:ffff::9]:80": {"2001:db8:1:2::/64", true},
		"192.0.2.1:80":              {"192.0.2.1/32", true},
		"[::ffff:192.0.2.1]:80":     {"192.0.2.1/32", true},
		"10.1.2.3:80":               {"10.1.2.3/32", false},
	} {
		key, counted := l.key(netAddr(addr))
		if key.String() != want.key || counted != want.counted {
			t.Errorf("key(%s) = %s %v, want %s %v", addr, key, counted, want.key, want.counted)
		}
	}
}

type netAddr string

func (a netAddr) Network() string { return "tcp" }
func (a netAddr) String() string  { return string(a) }

// Closing the listener (shutdown) is not an accept failure worth a warning.
func TestCapListenerQuietOnClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cl := newCapListener(ln, "test", Caps{}, slog.New(slog.NewTextHandler(&logs, nil)))
	done := make(chan error, 1)
	go func() {
		_, err := cl.Accept()
		done <- err
	}()
	cl.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: got %v, want net.ErrClosed", err)
	}
	if logs.Len() != 0 {
		t.Errorf("closing the listener logged:\n%s", logs.String())
	}
}
