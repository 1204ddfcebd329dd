package token

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
	"time"
)

// Foreign verifies JWTs that another party signs (Thunder's OAuth mode):
// HS256/384/512 with a shared secret, RS256/384/512 with an RSA public key.
// It is written on the standard library rather than go-jose because
// Thunder's deployments sign HS384 and HS512 with secrets shorter than the
// hash (its own suites use 32 bytes), which go-jose refuses and Thunder's
// library accepts.
type Foreign struct {
	HMAC     []byte         // nil: HS* tokens fail
	RSA      *rsa.PublicKey // nil: RS* tokens fail
	Issuer   string         // required: the iss every token carries
	Audience string         // "" : aud is not checked (as in Thunder)
	Now      func() time.Time
}

// ErrForeign is the cause of every refusal; the reason is in its text, for
// logs only (it never holds the token).
var ErrForeign = errors.New("token: foreign JWT refused")

// MaxForeignSize caps a token's length before any decoding.
const MaxForeignSize = 16 << 10

// Verify checks raw's signature, algorithm, issuer, audience and times
// (exp, nbf and iat when present, no leeway), and returns its subject.
// The algorithm decides the key: an HS* token is never checked against the
// RSA key, nor an RS* token against the secret, and "none" or any other
// algorithm fails.
func (f *Foreign) Verify(raw string) (string, error) {
	if len(raw) > MaxForeignSize {
		return "", fmt.Errorf("%w: too long", ErrForeign)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: not a compact JWS", ErrForeign)
	}
	head, err := decodePart(parts[0])
	if err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrForeign, err)
	}
	if _, ok := head["crit"]; ok {
		return "", fmt.Errorf("%w: critical header extensions are not supported", ErrForeign)
	}
	if _, ok := head["b64"]; ok {
		return "", fmt.Errorf("%w: critical header extensions are not supported", ErrForeign)
	}
	var alg string
	if err := member(head, "alg", &alg); err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrForeign, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", fmt.Errorf("%w: signature encoding", ErrForeign)
	}
	signed := []byte(parts[0] + "." + parts[1])
	if err := f.check(alg, signed, sig); err != nil {
		return "", err
	}
	c, err := readClaims(parts[1])
	if err != nil {
		return "", fmt.Errorf("%w: claims: %v", ErrForeign, err)
	}
	return c.Subject, f.validate(c)
}

// check verifies sig over signed with the key alg names.
func (f *Foreign) check(alg string, signed, sig []byte) error {
	var h func() hash.Hash
	var ch crypto.Hash
	switch alg {
	case "HS256", "RS256":
		h, ch = sha256.New, crypto.SHA256
	case "HS384", "RS384":
		h, ch = sha512.New384, crypto.SHA384
	case "HS512", "RS512":
		h, ch = sha512.New, crypto.SHA512
	default:
		return fmt.Errorf("%w: algorithm %q is not accepted", ErrForeign, alg)
	}
	if alg[0] == 'H' {
		if len(f.HMAC) == 0 {
			return fmt.Errorf("%w: %s token but no HMAC secret is configured", ErrForeign, alg)
		}
		m := hmac.New(h, f.HMAC)
		m.Write(signed)
		if !hmac.Equal(m.Sum(nil), sig) {
			return fmt.Errorf("%w: bad signature", ErrForeign)
		}
		return nil
	}
	if f.RSA == nil {
		return fmt.Errorf("%w: %s token but no RSA public key is configured", ErrForeign, alg)
	}
	d := h()
	d.Write(signed)
	if err := rsa.VerifyPKCS1v15(f.RSA, ch, d.Sum(nil), sig); err != nil {
		return fmt.Errorf("%w: bad signature", ErrForeign)
	}
	return nil
}

// foreignClaims are the registered claims Verify reads. Times are JSON
// numbers (NumericDate; fractions allowed); aud is a string or a list.
type foreignClaims struct {
	Issuer    *string
	Subject   string
	Audience  json.RawMessage
	Expiry    *float64
	NotBefore *float64
	IssuedAt  *float64
}

// readClaims reads the registered claims of a payload by their exact
// names. (encoding/json matches struct fields case-insensitively, with
// Unicode folding: "ISS", "Aud" or "ſub" would fill iss, aud or sub,
// and a later one would replace the real claim, so a custom claim that a
// token's issuer lets its users set could pose as a registered one.)
func readClaims(part string) (foreignClaims, error) {
	var c foreignClaims
	m, err := decodePart(part)
	if err != nil {
		return c, err
	}
	for _, f := range []struct {
		name string
		into any
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"exp", &c.Expiry}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt},
	} {
		if err := member(m, f.name, f.into); err != nil {
			return c, err
		}
	}
	c.Audience = m["aud"]
	return c, nil
}

// member decodes the member of m named exactly name into v, when present.
func member(m map[string]json.RawMessage, name string, v any) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

func (f *Foreign) validate(c foreignClaims) error {
	if c.Issuer == nil || *c.Issuer != f.Issuer {
		return fmt.Errorf("%w: wrong issuer", ErrForeign)
	}
	if f.Audience != "" && !hasAudience(c.Audience, f.Audience) {
		return fmt.Errorf("%w: wrong audience", ErrForeign)
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	t := now()
	at := func(v float64) time.Time {
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9))
	}
	for _, v := range []*float64{c.Expiry, c.NotBefore, c.IssuedAt} {
		if v != nil && (math.IsNaN(*v) || math.Abs(*v) > 1e12) {
			return fmt.Errorf("%w: time claim out of range", ErrForeign)
		}
	}
	switch {
	case c.Expiry != nil && !t.Before(at(*c.Expiry)):
		return fmt.Errorf("%w: expired", ErrForeign)
	case c.NotBefore != nil && t.Before(at(*c.NotBefore)):
		return fmt.Errorf("%w: not valid yet", ErrForeign)
	case c.IssuedAt != nil && t.Before(at(*c.IssuedAt)):
		return fmt.Errorf("%w: issued in the future", ErrForeign)
	}
	return nil
}

// hasAudience reports whether aud (a string or a list of strings) holds want.
func hasAudience(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(aud, &many) != nil {
		return false
	}
	for _, a := range many {
		if a == want {
			return true
		}
	}
	return false
}

// decodePart decodes one base64url JSON part of a JWS into its members,
// keyed by their exact names. A part that is not a JSON object, or holds a
// key twice, fails.
func decodePart(part string) (map[string]json.RawMessage, error) {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	if err := noDuplicateKeys(b); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// noDuplicateKeys refuses a JSON object that names a top-level key twice,
// so that two readers cannot see two different claims.
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		if seen[k] {
			return fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// ParseRSAPublicKey reads an RSA public key in PEM ("PUBLIC KEY" or "RSA
// PUBLIC KEY") or DER (X.509 SubjectPublicKeyInfo, as Thunder reads, or
// PKCS #1). Keys under 2048 bits are refused.
func ParseRSAPublicKey(b []byte) (*rsa.PublicKey, error) {
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		der = blk.Bytes
	}
	var key *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("the public key is not an RSA key")
		}
		key = rk
	} else if rk, err2 := x509.ParsePKCS1PublicKey(der); err2 == nil {
		key = rk
	} else {
		return nil, errors.New("not an RSA public key in PEM or DER")
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("the RSA key has %d bits; at least 2048 are required", key.N.BitLen())
	}
	return key, nil
}
