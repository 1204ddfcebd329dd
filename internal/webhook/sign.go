package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers. HTTP header names are case-insensitive; Go
// sends them in canonical form (Webhook-Id), which every receiver accepts.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a webhook-timestamp may be from the clock of
// the receiver when Verify is given no tolerance: the reference libraries'
// five minutes.
const DefaultTolerance = 5 * time.Minute

// Verify's errors; test them with errors.Is.
var (
	ErrSignature = errors.New("webhook: no valid signature")
	ErrTimestamp = errors.New("webhook: timestamp missing, malformed or outside the tolerance")
)

// Sign returns the webhook-signature of body sent as message id at ts:
// "v1," and the standard base64 of HMAC-SHA256(secret,
// "{id}.{unix seconds}.{body}"). Several signatures (while a secret is
// rotated) are joined with a space.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, strconv.FormatInt(ts.Unix(), 10), body))
}

// mac is HMAC-SHA256(secret, "{id}.{timestamp}.{body}").
func mac(secret []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received webhook as a receiver should: the
// webhook-timestamp is whole Unix seconds within tolerance of now (either
// side; zero means DefaultTolerance), and one of the space-separated
// entries of the webhook-signature is a "v1" signature that matches,
// compared in constant time. Entries of other versions (v1a, asymmetric)
// are skipped. It returns an error wrapping ErrTimestamp or ErrSignature.
func Verify(secret []byte, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if timestamp == "" || len(timestamp) > 18 || strings.Trim(timestamp, "0123456789") != "" {
		return ErrTimestamp
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %v from now", ErrTimestamp, d.Round(time.Second))
	}
	if id == "" || len(secret) == 0 {
		return ErrSignature
	}
	want := mac(secret, id, timestamp, body)
	for _, entry := range strings.Fields(signatures) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
