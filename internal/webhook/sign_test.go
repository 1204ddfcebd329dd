package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/webhook"
)

// specVerify checks a webhook the way the Standard Webhooks specification's
// text describes it, written apart from the package's Sign and Verify so
// that a shared mistake cannot hide: the secret is "whsec_" + base64 of the
// key; the signed content is "{webhook-id}.{webhook-timestamp}.{body}"; the
// signature is HMAC-SHA256 of it, base64 encoded, prefixed "v1,"; the
// header holds such signatures separated by spaces, any of which may match.
func specVerify(t testing.TB, secret, id, timestamp, header string, body []byte) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("decode secret: %v", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "." + string(body)))
	want := m.Sum(nil)
	for _, sig := range strings.Split(header, " ") {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// The vector of the Standard Webhooks reference Go library's test
// TestSymmetricWebhookSign, in github.com/standard-webhooks/standard-webhooks,
// libraries/go/webhook_symmetric_test.go (commit 3ac24afe352b); its
// expected signature was also recomputed with openssl dgst -sha256 -hmac.
const (
	vecSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTimestamp = 1614265330
	vecBody      = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheReferenceVector(t *testing.T) {
	key, err := webhook.ParseSecret(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.Sign(key, vecID, time.Unix(vecTimestamp, 0), []byte(vecBody))
	if got != vecSignature {
		t.Errorf("Sign = %s, want %s", got, vecSignature)
	}
	if !specVerify(t, vecSecret, vecID, strconv.Itoa(vecTimestamp), vecSignature, []byte(vecBody)) {
		t.Errorf("the independent check refuses the reference vector")
	}
	now := time.Unix(vecTimestamp+30, 0)
	if err := webhook.Verify(key, vecID, strconv.Itoa(vecTimestamp), vecSignature, []byte(vecBody), now, time.Minute); err != nil {
		t.Errorf("Verify refuses the reference vector: %v", err)
	}
}

func TestSignAgreesWithTheIndependentCheck(t *testing.T) {
	secret := webhook.NewSecret()
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 999_000_000, time.UTC) // sub-second part is dropped
	body := []byte(`{"type":"user.created","timestamp":"2026-03-01T12:00:00.999Z","data":{"id":"u1"}}`)
	sig := webhook.Sign(key, "msg_1", ts, body)
	if !specVerify(t, secret, "msg_1", strconv.FormatInt(ts.Unix(), 10), sig, body) {
		t.Fatalf("the independent check refuses %s", sig)
	}
	if specVerify(t, secret, "msg_1", strconv.FormatInt(ts.Unix(), 10), sig, append(body, ' ')) {
		t.Fatalf("the independent check accepts a changed body; the check itself is broken")
	}
}

func TestVerify(t *testing.T) {
	key, _ := webhook.ParseSecret(vecSecret)
	other, _ := webhook.ParseSecret(webhook.NewSecret())
	const ts = "1614265330"
	sent := time.Unix(vecTimestamp, 0)
	body := []byte(vecBody)
	tests := []struct {
		name      string
		secret    []byte
		id, ts    string
		sigs      string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", key, vecID, ts, vecSignature, body, sent, 0, nil},
		{"valid among others and an asymmetric one", key, vecID, ts,
			"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,aGVsbG8= " + vecSignature + " v2,x", body, sent, 0, nil},
		{"at the edge of the tolerance", key, vecID, ts, vecSignature, body, sent.Add(5 * time.Minute), 0, nil},
		{"a changed body", key, vecID, ts, vecSignature, []byte(`{"test": 2432232315}`), sent, 0, webhook.ErrSignature},
		{"another id", key, "msg_other", ts, vecSignature, body, sent, 0, webhook.ErrSignature},
		{"another secret", other, vecID, ts, vecSignature, body, sent, 0, webhook.ErrSignature},
		{"no secret", nil, vecID, ts, vecSignature, body, sent, 0, webhook.ErrSignature},
		{"no id", key, "", ts, vecSignature, body, sent, 0, webhook.ErrSignature},
		{"the right signature under v1a", key, vecID, ts, "v1a," + strings.TrimPrefix(vecSignature, "v1,"), body, sent, 0, webhook.ErrSignature},
		{"an empty signature", key, vecID, ts, "v1,", body, sent, 0, webhook.ErrSignature},
		{"no signature", key, vecID, ts, "", body, sent, 0, webhook.ErrSignature},
		{"another timestamp, still in tolerance", key, vecID, "1614265331", vecSignature, body, sent, 0, webhook.ErrSignature},
		{"too old", key, vecID, ts, vecSignature, body, sent.Add(5*time.Minute + time.Second), 0, webhook.ErrTimestamp},
		{"too new", key, vecID, ts, vecSignature, body, sent.Add(-time.Minute - time.Second), time.Minute, webhook.ErrTimestamp},
		{"no timestamp", key, vecID, "", vecSignature, body, sent, 0, webhook.ErrTimestamp},
		{"a signed timestamp", key, vecID, "+" + ts, vecSignature, body, sent, 0, webhook.ErrTimestamp},
		{"a fractional timestamp", key, vecID, ts + ".0", vecSignature, body, sent, 0, webhook.ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.id, tt.ts, tt.sigs, tt.body, tt.now, tt.tolerance)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
