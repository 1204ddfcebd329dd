package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// payloadTime is RFC 3339 with milliseconds, always written in UTC ("Z").
const payloadTime = "2006-01-02T15:04:05.000Z07:00"

// Payload returns the body of a webhook in the shape the specification
// recommends: {"type": typ, "timestamp": ts in RFC 3339 UTC with
// milliseconds, "data": data}. The type is full-stop delimited identifiers
// of [a-zA-Z0-9_] (user.created); data must encode as a JSON object.
func Payload(typ string, ts time.Time, data any) ([]byte, error) {
	if !validType(typ) {
		return nil, fmt.Errorf("webhook: event type %q is not dotted identifiers of [a-zA-Z0-9_]", typ)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode the data of %s: %w", typ, err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("webhook: the data of " + typ + " is not a JSON object")
	}
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{typ, ts.UTC().Format(payloadTime), raw})
}

// validType reports whether typ is the specification's recommended form of
// an event type: identifiers of [a-zA-Z0-9_] joined by full stops.
func validType(typ string) bool {
	for part := range strings.SplitSeq(typ, ".") {
		if part == "" {
			return false
		}
		for _, c := range []byte(part) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}
