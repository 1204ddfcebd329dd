package main

import (
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/usher"
)

// Tenant keys outside their alphabet are refused with 401 before any query,
// on both engines (issue 19: on PostgreSQL, invalid UTF-8 or a NUL reached
// the database and answered 500).
func TestPublicRefusesMalformedTenantKeys(t *testing.T) {
	s := startServer(t)
	pub := s.PublicAPI
	body := `{"email":"k@example.com","password":"` + userPassword + `"}`
	for name, opt := range map[string]reqOpt{
		"invalid UTF-8 in the header": header("SB-PUBLIC-KEY", "pk_\xff\xfe"),
		"Latin-1 in the header":       header("SB-PUBLIC-KEY", "pk_\xe9t\xe9"),
		"a space in the header":       header("SB-PUBLIC-KEY", "pk_a b"),
	} {
		pub.raw(t, "POST", "/login", body, opt, header("Content-Type", "application/json")).
			wantNativeError(t, name, http.StatusUnauthorized, usher.Unauthorized)
	}
	for name, q := range map[string]string{
		"a NUL in sbpk":          "?sbpk=pk_%00abc",
		"invalid UTF-8 in sbpk":  "?sbpk=pk_%ff%fe",
		"a quote in sbpk":        "?sbpk=pk_%27--",
		"a key of another shape": "?sbpk=" + "x",
	} {
		r := pub.raw(t, "POST", "/login"+q, body, header("Content-Type", "application/json"))
		if name == "a key of another shape" {
			r.wantNativeError(t, name, http.StatusUnauthorized, usher.Unauthorized) // well-formed, unknown
			continue
		}
		r.wantNativeError(t, name, http.StatusUnauthorized, usher.Unauthorized)
	}
}
