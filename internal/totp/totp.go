// Package totp holds time-based one-time passwords (RFC 6238) for
// two-factor sign-in: new secrets with their otpauth:// URI and QR code,
// code checks that name the time step a code belongs to (so a caller can
// refuse a replay), and recovery codes.
package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Period and Digits are the code parameters every authenticator app
// understands: a new code every 30 seconds, six digits, SHA-1.
const (
	Period = 30
	Digits = otp.DigitsSix
)

// Key is a new TOTP secret for one account.
type Key struct {
	Secret string // base32, as apps take it by hand
	URI    string // otpauth://totp/...
	PNG    []byte // the URI as a QR code
}

// Generate makes a new secret for account (the user's email) of issuer
// (the name the authenticator app shows).
func Generate(issuer, account string) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: Period, Digits: Digits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20,
	})
	if err != nil {
		return Key{}, fmt.Errorf("totp: %w", err)
	}
	img, err := k.Image(256, 256)
	if err != nil {
		return Key{}, fmt.Errorf("totp: QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return Key{}, fmt.Errorf("totp: QR code: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL(), PNG: b.Bytes()}, nil
}

// Step is a 30-second time step since the Unix epoch.
func stepOf(t time.Time) int64 { return t.Unix() / Period }

// Check reports the time step code belongs to, when it is secret's code
// for the step of now or one step either side (clocks drift), and that
// step is after notAfter (the last step accepted: a code is good once).
func Check(secret, code string, now time.Time, notAfter int64) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != int(Digits) {
		return 0, false
	}
	matched := int64(0)
	cur := stepOf(now)
	for s := cur - 1; s <= cur+1; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*Period, 0), totp.ValidateOpts{
			Period: Period, Digits: Digits, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		// Every step is computed and compared, so the time does not tell
		// which one matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > notAfter {
			matched = s
		}
	}
	return matched, matched != 0
}

// RecoveryCodeLen is a recovery code's length without its dashes: 16
// lower-case base32 characters, 80 random bits (enough that even their
// stored hashes cannot be searched).
const RecoveryCodeLen = 16

// NewRecoveryCodes returns n single-use recovery codes, xxxx-xxxx-xxxx-xxxx.
func NewRecoveryCodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		t := strings.ToLower(rand.Text()[:RecoveryCodeLen])
		out[i] = t[:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:]
	}
	return out
}

// NormalizeRecoveryCode is a recovery code as it is stored and compared:
// lower case, without spaces or dashes.
func NormalizeRecoveryCode(code string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(code)))
}
