package webhook_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/usherhq/usher/internal/usher"
	"github.com/usherhq/usher/internal/webhook"
)

func TestForbidden(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped IPv6
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"::ffff:192.168.1.1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"::ffff:169.254.169.254", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"240.0.0.1", true},
		{"192.0.0.8", true},
		{"198.18.0.1", true},
		{"::127.0.0.1", true},         // IPv4-compatible
		{"::ffff:0:127.0.0.1", true},  // IPv4-translated
		{"64:ff9b::7f00:1", true},     // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true},  // NAT64 of 169.254.169.254
		{"64:ff9b:1::1", true},        // local-use NAT64
		{"2002:7f00:1::1", true},      // 6to4 of 127.0.0.1
		{"2002:0a00:0001::1", true},   // 6to4 of 10.0.0.1
		{"2001:0:4136:e378::1", true}, // Teredo
		{"2001:db8::1", true},
		{"fec0::1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"::ffff:8.8.8.8", false},
		{"2606:4700:4700::1111", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"2002:0808:0808::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if got := webhook.Forbidden(ip); (got != "") != tt.refused {
				t.Errorf("forbidden(%s) = %q, want refused %v", ip, got, tt.refused)
			}
			err := webhook.RefuseAddress("tcp", netip.AddrPortFrom(ip, 443).String(), nil)
			if got := errors.Is(err, webhook.ErrForbiddenAddress); got != tt.refused {
				t.Errorf("the dialer's control on %s: %v, want refused %v", ip, err, tt.refused)
			}
		})
	}
}

// errInvalid stands in a test table for an usher.Invalid error that is not
// an address refusal.
var errInvalid = errors.New("invalid")

func TestValidateURL(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		want         error // nil, errInvalid, or ErrForbiddenAddress (also of code Invalid)
	}{
		{"https", "https://hooks.example.com/usher?token=x", false, nil},
		{"http with a port", "http://hooks.example.com:8080/in", false, nil},
		{"a public IPv4 literal", "https://8.8.8.8/", false, nil},
		{"a public IPv6 literal", "https://[2606:4700:4700::1111]:8443/", false, nil},
		{"a name is not resolved here", "https://internal.corp.example/", false, nil},
		{"loopback allowed when private is", "http://127.0.0.1:9000/", true, nil},
		{"localhost allowed when private is", "http://localhost:9000/", true, nil},
		{"loopback", "http://127.0.0.1/", false, webhook.ErrForbiddenAddress},
		{"IPv6 loopback", "http://[::1]:8080/", false, webhook.ErrForbiddenAddress},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/", false, webhook.ErrForbiddenAddress},
		{"private", "https://10.0.0.5/hook", false, webhook.ErrForbiddenAddress},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", false, webhook.ErrForbiddenAddress},
		{"unspecified", "http://0.0.0.0:80/", false, webhook.ErrForbiddenAddress},
		{"CGNAT", "http://100.64.1.1/", false, webhook.ErrForbiddenAddress},
		{"IPv6 link-local with a zone", "http://[fe80::1%25eth0]/", false, webhook.ErrForbiddenAddress},
		{"localhost", "http://localhost:8080/", false, webhook.ErrForbiddenAddress},
		{"a localhost subdomain", "http://api.LOCALHOST./", false, webhook.ErrForbiddenAddress},
		{"short numeric IPv4", "http://127.1/", false, errInvalid},
		{"decimal IPv4", "http://2130706433/", false, errInvalid},
		{"hex IPv4", "http://0x7f.0.0.1/", false, errInvalid},
		{"octal IPv4", "http://0177.0.0.1/", false, errInvalid},
		{"numeric host even when private is allowed", "http://127.1/", true, errInvalid},
		{"ftp", "ftp://hooks.example.com/", false, errInvalid},
		{"file", "file:///etc/passwd", true, errInvalid},
		{"gopher", "gopher://hooks.example.com/", true, errInvalid},
		{"no scheme", "hooks.example.com/in", false, errInvalid},
		{"relative", "/in", false, errInvalid},
		{"opaque", "http:hooks.example.com", false, errInvalid},
		{"no host", "https:///in", false, errInvalid},
		{"port only", "https://:443/in", false, errInvalid},
		{"user info", "https://user:pass@hooks.example.com/", false, errInvalid},
		{"user name only", "https://user@hooks.example.com/", true, errInvalid},
		{"port 0", "https://hooks.example.com:0/", false, errInvalid},
		{"port too large", "https://hooks.example.com:65536/", false, errInvalid},
		{"not a URL", "https://hooks.example.com/%zz", false, errInvalid},
		{"control character", "https://hooks.example.com/\n", false, errInvalid},
		{"too long", "https://hooks.example.com/" + string(make([]byte, 2048)), false, errInvalid},
		{"empty", "", false, errInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.ValidateURL(tt.url, tt.allowPrivate)
			switch {
			case tt.want == nil:
				if err != nil {
					t.Fatalf("ValidateURL = %v, want nil", err)
				}
			case usher.ErrorCode(err) != usher.Invalid:
				t.Fatalf("ValidateURL = %v (code %q), want code %q", err, usher.ErrorCode(err), usher.Invalid)
			case errors.Is(tt.want, webhook.ErrForbiddenAddress) != errors.Is(err, webhook.ErrForbiddenAddress):
				t.Fatalf("ValidateURL = %v, want ErrForbiddenAddress %v", err, errors.Is(tt.want, webhook.ErrForbiddenAddress))
			}
		})
	}
}
