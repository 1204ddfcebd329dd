package thunder_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/api/thunder"
	"github.com/usherhq/usher/internal/api/thunderadmin"
	"github.com/usherhq/usher/internal/token"
)

// oauthKeys are one RSA key pair and one HMAC secret for the OAuth tests.
var oauthKeys = func() struct {
	rsa    *rsa.PrivateKey
	secret []byte
} {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return struct {
		rsa    *rsa.PrivateKey
		secret []byte
	}{k, []byte("0123456789abcdefghijklmnopqrstuv")} // 32 bytes, as Thunder's deployments use
}()

// jwtFor signs claims with alg: RS* with go-jose, HS* by hand (go-jose
// refuses a 32-byte secret for HS384 and HS512; Thunder accepts it).
func jwtFor(t *testing.T, alg string, claims string) string {
	t.Helper()
	if alg[0] == 'R' {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: oauthKeys.rsa}, nil)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(`{"typ":"JWT","alg":"`+alg+`"}`)) + "." + enc([]byte(claims))
	m := hmac.New(hashOf(alg), oauthKeys.secret)
	m.Write([]byte(signed))
	return signed + "." + enc(m.Sum(nil))
}

func oauthConfig(rec thunder.Recorder) func(*thunder.Config) {
	return func(c *thunder.Config) {
		c.Apps = nil
		c.OAuth = &token.Foreign{HMAC: oauthKeys.secret, RSA: &oauthKeys.rsa.PublicKey, Issuer: "thunder-oauth-issuer", Audience: "thunder"}
		c.Recorder = rec
	}
}

const goodClaims = `{"iss":"thunder-oauth-issuer","aud":"thunder","sub":"backend@example.com","iat":1600000000}`

func bearer(tok string) map[string]string {
	return with(withPw, "Authorization", "Bearer "+tok)
}

func TestOAuthAcceptsEachAlgorithm(t *testing.T) {
	for _, alg := range []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512"} {
		run(t, []scenario{{
			name: alg, cfg: oauthConfig(nil), setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com",
			header: bearer(jwtFor(t, alg, goodClaims)), status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`),
		}})
	}
}

func TestOAuthRefuses(t *testing.T) {
	far := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	challenge := map[string]string{"WWW-Authenticate": `Bearer realm="realm"`}
	tok := func(alg, claims string) map[string]string { return bearer(jwtFor(t, alg, claims)) }
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(goodClaims)) + "."
	var tests []scenario
	for name, h := range map[string]map[string]string{
		"no token":              with(withPw, "Authorization", ""),
		"an empty bearer":       with(withPw, "Authorization", "Bearer"),
		"basic credentials":     with(withPw, "Authorization", basic("app", "s3cret")),
		"garbage":               bearer("this-token-is-not-right"),
		"alg none":              bearer(none),
		"expired":               tok("HS256", `{"iss":"thunder-oauth-issuer","aud":"thunder","exp":`+itoa(past)+`}`),
		"not before the future": tok("HS512", `{"iss":"thunder-oauth-issuer","aud":"thunder","nbf":`+itoa(far)+`}`),
		"wrong audience":        tok("HS512", `{"iss":"thunder-oauth-issuer","aud":"thunder55"}`),
		"wrong issuer":          tok("RS256", `{"iss":"thunder-oauth-bad-issuer","aud":"thunder"}`),
		"another key":           bearer(otherKeyToken(t)),
	} {
		tests = append(tests, scenario{
			name: name, cfg: oauthConfig(nil), setup: withSam(nil), method: "GET", path: "/users?email=sam@example.com",
			header: h, status: http.StatusUnauthorized, wantHeader: challenge, wantText: noCredentials,
		})
	}
	run(t, tests)
}

func otherKeyToken(t *testing.T) string {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, nil)
	raw, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: "thunder-oauth-issuer", Audience: jwt.Audience{"thunder"}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestOAuthCounters counts as Thunder does: a token given is a success or
// a failure; a request without one is neither.
func TestOAuthCounters(t *testing.T) {
	reg := thunderadmin.NewRegistry(nil, nil, []string{thunder.CounterJWTSuccess, thunder.CounterJWTFailure}, []string{thunder.TimerJWT})
	e := newEnv(t, oauthConfig(reg), false)
	withSam(nil)(t, e)
	good := jwtFor(t, "RS512", goodClaims)
	for _, h := range []map[string]string{
		bearer(good), bearer(good), bearer("bad"), bearer(jwtFor(t, "HS256", `{"iss":"x"}`)), with(withPw, "Authorization", ""),
	} {
		e.do(t, "GET", "/users?email=sam@example.com", h, "")
	}
	counts := counters(t, reg)
	if counts[thunder.CounterJWTSuccess] != 2 || counts[thunder.CounterJWTFailure] != 2 {
		t.Errorf("counters %v, want 2 successes and 2 failures", counts)
	}
}

func hashOf(alg string) func() hash.Hash {
	switch alg {
	case "HS384":
		return sha512.New384
	case "HS512":
		return sha512.New
	}
	return sha256.New
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// counters reads the registry's counters.
func counters(t *testing.T, reg *thunderadmin.Registry) map[string]int64 {
	t.Helper()
	return reg.Counters()
}

func TestRouteTableOAuthWithoutEmail(t *testing.T) {
	var got []string
	for _, rt := range thunder.New((*account.Service)(nil), "", thunder.Config{OAuth: oauthVerifier{}, NoEmail: true}).Routes() {
		got = append(got, rt.Pattern+" "+rt.Guard.Name)
	}
	want := []string{"POST /users thunder-oauth", "GET /users thunder-oauth", "PUT /users thunder-oauth", "DELETE /users thunder-oauth"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
