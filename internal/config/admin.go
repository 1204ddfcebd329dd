package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// validateAdmin checks the admin console's settings.
func (c *Config) validateAdmin(bad func(name, format string, args ...any)) {
	if (c.AdminTLSCert == "") != (c.AdminTLSKey == "") {
		bad("admin-tls-cert", "admin-tls-cert and admin-tls-key must be given together")
	}
	if c.AdminSessionIdle < time.Minute {
		bad("admin-session-idle", "must be at least 1m")
	}
	if c.AdminSessionMaxAge < c.AdminSessionIdle || c.AdminSessionMaxAge > 30*24*time.Hour {
		bad("admin-session-max-age", "must be at least admin-session-idle and at most 720h")
	}
	if c.AdminSetupTTL < time.Minute || c.AdminSetupTTL > 30*24*time.Hour {
		bad("admin-setup-ttl", "must be between 1m and 720h")
	}
	if c.AdminRate < 0 {
		bad("admin-rate-auth", "must not be negative")
	}
	if c.AdminURL != "" {
		if u, err := url.Parse(c.AdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("admin-url", "%q is not an http(s) URL", c.AdminURL)
		}
	}
	if !c.AdminConsole {
		return
	}
	host, _, err := net.SplitHostPort(c.AdminAddr)
	if err != nil {
		bad("admin-addr", "%q is not host:port", c.AdminAddr)
		return
	}
	if c.AdminTLSCert == "" && !IsLoopback(host) {
		bad("admin-addr", "%q is not a loopback address: the console speaks plain HTTP only on loopback; "+
			"give admin-tls-cert and admin-tls-key, or reach it through an SSH tunnel", c.AdminAddr)
	}
	for name, addr := range map[string]string{"backend-addr": c.BackendAddr, "public-addr": c.PublicAddr, "thunder-addr": c.ThunderAddr} {
		if addr == c.AdminAddr && addr != "" && !hasPortZero(addr) {
			bad("admin-addr", "must differ from %s", name)
		}
	}
}

// IsLoopback reports whether host (from host:port) names only this
// machine: localhost or a loopback IP. An empty host (every interface)
// is not.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func hasPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// AdminBaseURL is the console's base URL: admin-url, else from the bound
// address and whether it speaks TLS.
func (c *Config) AdminBaseURL(boundAddr string) string {
	if c.AdminURL != "" {
		return strings.TrimRight(c.AdminURL, "/")
	}
	scheme := "http"
	if c.AdminTLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + boundAddr
}
