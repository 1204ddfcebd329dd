package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signJOSE signs claims with go-jose: an independent implementation, so the
// tests prove Verify reads what others write.
func signJOSE(t *testing.T, alg jose.SignatureAlgorithm, key any, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signRaw builds a compact JWS by hand with any header (for tokens no
// library would write: alg none, short HMAC keys, crafted headers).
func signRaw(header, claims string, sign func(signed []byte) []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(header)) + "." + enc([]byte(claims))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(signed))
	}
	return signed + "." + enc(sig)
}

func hs256(key []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(b)
		return m.Sum(nil)
	}
}

var foreignNow = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func TestForeignAcceptsEachAlgorithm(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 64)
	rand.Read(secret)
	f := &Foreign{HMAC: secret, RSA: &rsaKey.PublicKey, Issuer: "iss-1", Audience: "thunder", Now: func() time.Time { return foreignNow }}
	claims := jwt.Claims{Issuer: "iss-1", Subject: "app@example.com", Audience: jwt.Audience{"other", "thunder"},
		Expiry: jwt.NewNumericDate(foreignNow.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(foreignNow.Add(-time.Minute))}
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key any
	}{
		{jose.HS256, secret}, {jose.HS384, secret}, {jose.HS512, secret},
		{jose.RS256, rsaKey}, {jose.RS384, rsaKey}, {jose.RS512, rsaKey},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			sub, err := f.Verify(signJOSE(t, tc.alg, tc.key, claims))
			if err != nil || sub != "app@example.com" {
				t.Fatalf("Verify = %q, %v; want the subject", sub, err)
			}
		})
	}
}

func TestForeignShortHMACSecretAsThunderAccepts(t *testing.T) {
	// Thunder's own deployments sign HS512 with a 32-byte secret.
	secret := []byte("0123456789abcdef0123456789abcdef")
	f := &Foreign{HMAC: secret, Issuer: "i", Now: func() time.Time { return foreignNow }}
	raw := signRaw(`{"alg":"HS256","typ":"JWT"}`, `{"iss":"i","sub":"s"}`, hs256(secret))
	if _, err := f.Verify(raw); err != nil {
		t.Fatalf("Verify = %v, want accepted", err)
	}
}

func TestForeignRefuses(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	secret := []byte("a-shared-secret-of-thirty-two-by")
	now := func() time.Time { return foreignNow }
	f := &Foreign{HMAC: secret, RSA: &rsaKey.PublicKey, Issuer: "iss-1", Audience: "thunder", Now: now}
	good := jwt.Claims{Issuer: "iss-1", Audience: jwt.Audience{"thunder"}}
	with := func(mod func(c *jwt.Claims)) jwt.Claims { c := good; mod(&c); return c }
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	// The RSA public key used as an HMAC secret: the classic confusion attack.
	confused := signRaw(`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"thunder"}`, hs256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})))
	cases := map[string]string{
		"alg none":              signRaw(`{"alg":"none"}`, `{"iss":"iss-1","aud":"thunder"}`, nil),
		"alg None":              signRaw(`{"alg":"None"}`, `{"iss":"iss-1","aud":"thunder"}`, nil),
		"PS384 (not accepted)":  signJOSE(t, jose.PS384, rsaKey, good),
		"RSA key as HMAC":       confused,
		"other RSA key":         signJOSE(t, jose.RS256, otherKey, good),
		"other secret":          signRaw(`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"thunder"}`, hs256([]byte("another-secret-of-thirty-two-byt"))),
		"wrong issuer":          signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.Issuer = "iss-2" })),
		"no issuer":             signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.Issuer = "" })),
		"wrong audience":        signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"thunder55"} })),
		"no audience":           signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.Audience = nil })),
		"expired":               signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(foreignNow) })),
		"not before the future": signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(foreignNow.Add(time.Second)) })),
		"issued in the future":  signJOSE(t, jose.RS256, rsaKey, with(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(foreignNow.Add(time.Minute)) })),
		"crit header":           signRaw(`{"alg":"HS256","crit":["exp"]}`, `{"iss":"iss-1","aud":"thunder"}`, hs256(secret)),
		"duplicate iss":         signRaw(`{"alg":"HS256"}`, `{"iss":"evil","iss":"iss-1","aud":"thunder"}`, hs256(secret)),
		"claims not an object":  signRaw(`{"alg":"HS256"}`, `["iss-1"]`, hs256(secret)),
		"garbage":               "this-token-is-not-right",
		"two parts":             "a.b",
		"bad signature base64":  signRaw(`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"thunder"}`, nil) + "!!",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if sub, err := f.Verify(raw); !errors.Is(err, ErrForeign) {
				t.Fatalf("Verify = %q, %v; want ErrForeign", sub, err)
			}
		})
	}
	t.Run("HS token without a secret", func(t *testing.T) {
		g := &Foreign{RSA: &rsaKey.PublicKey, Issuer: "iss-1", Now: now}
		raw := signRaw(`{"alg":"HS256"}`, `{"iss":"iss-1"}`, hs256(nil))
		if _, err := g.Verify(raw); !errors.Is(err, ErrForeign) {
			t.Fatalf("Verify = %v, want ErrForeign", err)
		}
	})
	t.Run("RS token without a key", func(t *testing.T) {
		g := &Foreign{HMAC: secret, Issuer: "iss-1", Now: now}
		if _, err := g.Verify(signJOSE(t, jose.RS256, rsaKey, good)); !errors.Is(err, ErrForeign) {
			t.Fatalf("Verify = %v, want ErrForeign", err)
		}
	})
}

func TestForeignNoAudienceConfigured(t *testing.T) {
	secret := []byte("a-shared-secret-of-thirty-two-by")
	f := &Foreign{HMAC: secret, Issuer: "i", Now: func() time.Time { return foreignNow }}
	for _, claims := range []string{`{"iss":"i"}`, `{"iss":"i","aud":"anyone"}`, `{"iss":"i","aud":["a","b"],"exp":1.8e9}`} {
		if _, err := f.Verify(signRaw(`{"alg":"HS256"}`, claims, hs256(secret))); err != nil {
			t.Errorf("Verify(%s) = %v, want accepted", claims, err)
		}
	}
}

func TestParseRSAPublicKey(t *testing.T) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkix, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&k.PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	for name, in := range map[string][]byte{
		"DER PKIX":  pkix,
		"DER PKCS1": pkcs1,
		"PEM PKIX":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PEM PKCS1": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
	} {
		got, err := ParseRSAPublicKey(in)
		if err != nil || !got.Equal(&k.PublicKey) {
			t.Errorf("%s: ParseRSAPublicKey = %v; want the key", name, err)
		}
	}
	for name, in := range map[string][]byte{"garbage": []byte("nope"), "1024 bits": smallDER, "empty": nil} {
		if _, err := ParseRSAPublicKey(in); err == nil {
			t.Errorf("%s: ParseRSAPublicKey accepted it", name)
		}
	}
}

func FuzzForeignVerify(f *testing.F) {
	secret := []byte("a-shared-secret-of-thirty-two-by")
	f.Add(signRaw(`{"alg":"HS256"}`, `{"iss":"i"}`, hs256(secret)))
	f.Add("a.b.c")
	v := &Foreign{HMAC: secret, Issuer: "i"}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := v.Verify(raw); err != nil {
			return
		}
		// Only a token whose signature is the secret's HS256 MAC passes.
		parts := strings.Split(raw, ".")
		want := base64.RawURLEncoding.EncodeToString(hs256(secret)([]byte(parts[0] + "." + parts[1])))
		if parts[2] != want {
			t.Fatalf("Verify accepted %q without the secret's signature", raw)
		}
	})
}

func BenchmarkForeignVerify(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	secret := []byte("a-shared-secret-of-thirty-two-by")
	f := &Foreign{HMAC: secret, RSA: &rsaKey.PublicKey, Issuer: "i", Audience: "a"}
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, nil)
	rs, _ := jwt.Signed(s).Claims(jwt.Claims{Issuer: "i", Audience: jwt.Audience{"a"}}).Serialize()
	for name, raw := range map[string]string{
		"HS256": signRaw(`{"alg":"HS256"}`, `{"iss":"i","aud":"a"}`, hs256(secret)),
		"RS256": rs,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.Verify(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Claim and header names are exact (RFC 7515/7519): a key that differs
// only by case, or by Unicode case folding, is another claim, never the
// registered one. An issuer that lets users add custom claims ("Aud",
// "EXP") must not let them replace its own.
func TestForeignClaimNamesAreExact(t *testing.T) {
	secret := []byte("a-shared-secret-of-thirty-two-by")
	f := &Foreign{HMAC: secret, Issuer: "iss-1", Audience: "thunder", Now: func() time.Time { return foreignNow }}
	exp := foreignNow.Add(-time.Hour).Unix()
	later := foreignNow.Add(time.Hour).Unix()
	refused := map[string][2]string{
		"iss in upper case":        {`{"alg":"HS256"}`, `{"ISS":"iss-1","aud":"thunder"}`},
		"iss by Unicode folding":   {`{"alg":"HS256"}`, `{"iſs":"iss-1","aud":"thunder"}`},
		"Aud after the real aud":   {`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"other","Aud":"thunder"}`},
		"Exp after the real exp":   {`{"alg":"HS256"}`, fmt.Sprintf(`{"iss":"iss-1","aud":"thunder","exp":%d,"Exp":%d}`, exp, later)},
		"alg in upper case":        {`{"ALG":"HS256"}`, `{"iss":"iss-1","aud":"thunder"}`},
		"iss twice, once in caps":  {`{"alg":"HS256"}`, `{"iss":"iss-2","ISS":"iss-1","aud":"thunder"}`},
		"alg not a string":         {`{"alg":["HS256"]}`, `{"iss":"iss-1","aud":"thunder"}`},
		"sub not a string":         {`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"thunder","sub":5}`},
		"exp a string":             {`{"alg":"HS256"}`, `{"iss":"iss-1","aud":"thunder","exp":"9999999999"}`},
		"aud list with a non-text": {`{"alg":"HS256"}`, `{"iss":"iss-1","aud":["thunder",5]}`},
	}
	for name, p := range refused {
		t.Run(name, func(t *testing.T) {
			if sub, err := f.Verify(signRaw(p[0], p[1], hs256(secret))); !errors.Is(err, ErrForeign) {
				t.Fatalf("Verify = %q, %v; want ErrForeign", sub, err)
			}
		})
	}
	// A custom claim whose name differs from a registered one only by case
	// is left alone.
	raw := signRaw(`{"alg":"HS256"}`, fmt.Sprintf(`{"iss":"iss-1","aud":"thunder","sub":"app","EXP":%d,"Iss":"x"}`, exp), hs256(secret))
	if sub, err := f.Verify(raw); err != nil || sub != "app" {
		t.Fatalf("Verify = %q, %v; want accepted with its custom claims ignored", sub, err)
	}
}
