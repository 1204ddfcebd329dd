package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	console "github.com/usherhq/usher/internal/api/admin"
	"github.com/usherhq/usher/internal/server"
	"github.com/usherhq/usher/internal/transfer"
)

// The admin console's listener and its wiring.

// listenAdmin binds the console's listener: HTTPS with admin-tls-cert,
// else plain HTTP, which must be bound to a loopback address (checked on
// the address actually bound, whatever name the setting gave).
func (m *Main) listenAdmin(t server.Timeouts) error {
	c := &m.Config
	if !c.AdminConsole {
		return nil
	}
	m.admin = &server.Listener{Name: "admin", Addr: c.AdminAddr, Caps: server.Caps{Total: c.MaxConns, PerIP: c.MaxConnsPerIP, Trust: m.proxies}}
	if c.AdminTLSCert != "" {
		var err error
		if m.admin.TLS, err = server.ServerTLS(c.AdminTLSCert, c.AdminTLSKey); err != nil {
			return fmt.Errorf("admin-tls-cert: %w", err)
		}
	}
	if err := m.admin.Listen(t, m.Log); err != nil {
		return err
	}
	if m.admin.TLS == nil {
		ap, err := netip.ParseAddrPort(m.admin.BoundAddr())
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			return fmt.Errorf("invalid setting admin-addr: %s is not a loopback address; the console speaks plain HTTP only on loopback (give admin-tls-cert)", m.admin.BoundAddr())
		}
	}
	return nil
}

// AdminAddr returns the bound address of the console's listener, or "".
func (m *Main) AdminAddr() string {
	if m.admin == nil {
		return ""
	}
	return m.admin.BoundAddr()
}

// buildConsole builds the console's surface. On a fresh install (no
// admin yet) it makes the install link that start-up prints.
func (m *Main) buildConsole(ctx context.Context) (*console.Console, error) {
	has, err := m.Accounts.HasAdmins(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin accounts: %w", err)
	}
	if !has {
		m.installToken = rand.Text()
	}
	origin := m.consoleOrigin()
	return console.New(console.Config{
		Accounts:     m.Accounts,
		Transfer:     &transfer.Transfer{Accounts: m.Accounts},
		Keys:         consoleKeys{m},
		Pool:         m.poolLoad,
		Secure:       m.admin.TLS != nil || origin.Scheme == "https",
		Origin:       origin.String(),
		InstallToken: m.installToken,
		RateAuth:     m.Config.AdminRate,
		Log:          m.Log,
		Now:          m.Now,
	})
}

func (m *Main) poolLoad() console.PoolLoad {
	s := m.Hasher.Stats()
	return console.PoolLoad{Workers: s.Workers, Running: int(s.Running), Queued: int(s.Queued)}
}

// consoleKeys gives the console the token keyring.
type consoleKeys struct{ m *Main }

func (k consoleKeys) List(ctx context.Context) ([]console.Key, error) {
	keys, err := k.m.Store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.Key, len(keys))
	for i, x := range keys {
		out[i] = console.Key{KID: x.KID, CreatedAt: x.CreatedAt, RetiredAt: x.RetiredAt}
	}
	return out, nil
}

func (k consoleKeys) Rotate(ctx context.Context) (string, error) {
	return k.m.Keys.Rotate(ctx, k.m.Now().UTC())
}

// consoleOrigin is admin-url's origin: behind a TLS proxy it is https,
// though this listener speaks plain HTTP, and the console's cookies must
// then be Secure (else a forged http:// request to that host carries the
// session in clear). Zero without admin-url.
func (m *Main) consoleOrigin() *url.URL {
	u, err := url.Parse(m.Config.AdminURL)
	if m.Config.AdminURL == "" || err != nil { // validated at start: not reached
		return &url.URL{}
	}
	// As browsers write an Origin: lower case, no default port.
	host := strings.ToLower(u.Host)
	if u.Port() == map[string]string{"http": "80", "https": "443"}[u.Scheme] {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return &url.URL{Scheme: strings.ToLower(u.Scheme), Host: host}
}

// adminURL is the console's base URL.
func (m *Main) adminURL() string {
	return m.Config.AdminBaseURL(m.AdminAddr())
}
