package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/usherhq/usher/internal/usher"
)

// ErrForbiddenAddress is wrapped by every refusal of a destination that is
// loopback, private, link-local or otherwise internal (see forbidden), from
// ValidateURL and from Send; test it with errors.Is.
var ErrForbiddenAddress = errors.New("destination address not allowed")

// maxURL bounds a webhook URL; longer is a mistake or an attack.
const maxURL = 2048

// ValidateURL checks a webhook URL when it is registered: absolute, http
// or https, a host, no user name or password, a valid port, and (unless
// allowPrivate) no IP literal that forbidden refuses and no "localhost".
// It does no DNS lookup, on purpose: what a name resolves to may change
// after registration, so Send checks the resolved addresses when it
// connects, on every attempt; this check only turns away what is wrong at
// once. Its errors are usher.Invalid with a message safe to show, and wrap
// ErrForbiddenAddress for a refused address.
func ValidateURL(raw string, allowPrivate bool) error {
	u, err := checkURL(raw, allowPrivate)
	if err != nil {
		return err
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		// RFC 6761: these names are loopback, whatever DNS says.
		return usher.Wrap(usher.Invalid, "The webhook URL's host is not one webhooks may reach (loopback).", ErrForbiddenAddress)
	}
	return nil
}

// checkURL is what both ValidateURL and every Send require of a URL. It
// returns the parsed URL.
func checkURL(raw string, allowPrivate bool) (*url.URL, error) {
	if len(raw) > maxURL {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL is longer than %d bytes.", maxURL)
	}
	// The parse error quotes the URL, whose path or query may hold a
	// token of the receiver's: keep it out of logs and records.
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL is not a valid URL.")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL must use http or https.")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL must name a host.")
	}
	if u.User != nil {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL must not hold a user name or password.")
	}
	host := u.Hostname()
	if host == "" {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL must name a host.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, usher.Errorf(usher.Invalid, "The webhook URL's port must be 1 to 65535.")
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := forbidden(ip); why != "" && !allowPrivate {
			return nil, usher.Wrap(usher.Invalid, "The webhook URL's address is not one webhooks may reach ("+why+").", ErrForbiddenAddress)
		}
	} else if numericHost(host) {
		return nil, usher.Errorf(usher.Invalid, "The webhook URL's host is neither a DNS name nor an IP address in standard form.")
	}
	return u, nil
}

// numericHost reports whether host, which is not an IP literal, ends in an
// all-numeric label (127.1, 2130706433, 0x7f.0.0.1). No DNS name does, but
// C resolvers read such hosts as IPv4 addresses in inet_aton's forms, which
// would dodge the literal check here (the check at connect time would still
// catch them).
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := strings.ToLower(host[strings.LastIndexByte(host, '.')+1:])
	digits := "0123456789"
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		last, digits = rest, "0123456789abcdef"
	}
	return strings.Trim(last, digits) == ""
}

// reserved are the ranges, beyond those netip's predicates name, that a
// webhook never has reason to reach: they are internal by definition or
// lead to internal addresses. Read only.
var reserved = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
}

// Prefixes whose addresses carry an IPv4 address that a gateway connects to.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the IPv4 address is the last 32 bits
	sixTo4 = netip.MustParsePrefix("2002::/16")    // RFC 3056: bits 16 to 48
)

// forbidden returns what kind of address ip is if webhooks must not reach
// it ("loopback", "private", ...), or "" if they may. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they map, and NAT64 and 6to4
// addresses by the IPv4 address they lead to.
func forbidden(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate(): // 10/8, 172.16/12, 192.168/16, fc00::/7
		return "private"
	case ip.IsLinkLocalUnicast(): // 169.254/16 (cloud metadata), fe80::/10
		return "link-local"
	case ip.IsMulticast(): // 224/4, ff00::/8, link- and interface-local included
		return "multicast"
	}
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.why
		}
	}
	b := ip.As16()
	var embedded netip.Addr
	switch {
	case nat64.Contains(ip):
		embedded = netip.AddrFrom4([4]byte(b[12:16]))
	case sixTo4.Contains(ip):
		embedded = netip.AddrFrom4([4]byte(b[2:6]))
	default:
		return ""
	}
	if why := forbidden(embedded); why != "" {
		return why + " (behind NAT64 or 6to4)"
	}
	return ""
}

// refuseAddress is the dialer's Control when private addresses are
// refused: the last check, on the address the socket is about to connect
// to, whatever path led there.
func refuseAddress(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the address %q", ErrForbiddenAddress, address)
	}
	if why := forbidden(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s (%s)", ErrForbiddenAddress, ap.Addr().Unmap(), why)
	}
	return nil
}
