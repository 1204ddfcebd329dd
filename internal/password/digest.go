package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strings"
)

// digestHash is one pass of a digest over a salted password. These are
// weak: imported only because their salt makes each user's hash a separate
// search, and replaced at the user's first login.
type digestHash struct {
	digest func() hash.Hash
	input  func(password string) []byte
	sum    []byte
}

func (d digestHash) match(password string) bool {
	h := d.digest()
	h.Write(d.input(password))
	return subtle.ConstantTimeCompare(h.Sum(nil), d.sum) == 1
}

// parseSSHA decodes LDAP's "{SSHA}", "{SSHA256}" and "{SSHA512}": standard
// base64 of digest(password + salt) followed by the salt.
func parseSSHA(encoded string) (stored, error) {
	scheme, b64text, _ := strings.Cut(encoded[1:], "}")
	name := strings.ToLower(scheme)
	d := digestHash{digest: map[string]func() hash.Hash{"ssha": sha1.New, "ssha256": sha256.New, "ssha512": sha512.New}[name]}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64text)
	size := d.digest().Size()
	switch {
	case err != nil || len(raw) < size:
		return nil, malformed(name, "want standard base64 of the digest and then the salt")
	case len(raw) == size:
		return nil, refused(name+" without a salt", "equal passwords have equal hashes")
	case len(raw) > size+maxSaltLen:
		return nil, malformed(name, "salt is over 128 bytes")
	}
	salt := raw[size:]
	d.sum = raw[:size]
	d.input = func(pw string) []byte { return append([]byte(pw), salt...) }
	return d, nil
}

// parseSaltedSHA decodes Kratos's "$sha256$pf=<template>$<salt>$<hash>",
// all in padded standard base64. The template says how the input is made:
// "{SALT}" and "{PASSWORD}" in it are replaced by the salt and password.
func parseSaltedSHA(encoded string) (stored, error) {
	parts := strings.Split(encoded, "$")
	name := "salted " + parts[1]
	if len(parts) != 5 {
		return nil, malformed(name, "want 4 fields separated by $")
	}
	d := digestHash{digest: pbkdf2Digests[parts[1]]}
	dec := base64.StdEncoding.Strict().DecodeString
	tmpl, ok := strings.CutPrefix(parts[2], "pf=")
	t, err := dec(tmpl)
	if !ok || err != nil || len(t) > 256 {
		return nil, malformed(name, "want pf= and a template in base64")
	}
	salt, err := dec(parts[3])
	if err != nil || len(salt) > maxSaltLen {
		return nil, malformed(name, "want a salt in base64")
	}
	if d.sum, err = dec(parts[4]); err != nil || len(d.sum) != d.digest().Size() {
		return nil, malformed(name, "want the digest in base64")
	}
	switch {
	case !strings.Contains(string(t), "{PASSWORD}"):
		// Such a hash would match every password.
		return nil, malformed(name, "template lacks {PASSWORD}")
	case len(salt) == 0 || !strings.Contains(string(t), "{SALT}"):
		return nil, refused(name+" without a salt", "equal passwords have equal hashes")
	}
	d.input = func(pw string) []byte {
		return []byte(strings.NewReplacer("{SALT}", string(salt), "{PASSWORD}", pw).Replace(string(t)))
	}
	return d, nil
}
