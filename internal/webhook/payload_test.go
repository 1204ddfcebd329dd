package webhook_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/internal/webhook"
)

func TestPayload(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	ts := time.Date(2022, 11, 3, 21, 26, 10, 344_522_000, paris)
	tests := []struct {
		name string
		typ  string
		data any
		want string // "" means an error
	}{
		{"the specification's shape, in UTC with milliseconds", "contact.created", map[string]any{"id": "1f81"},
			`{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344Z","data":{"id":"1f81"}}`},
		{"a struct", "user.password_changed", struct {
			UserID string `json:"user_id"`
		}{"u1"}, `{"type":"user.password_changed","timestamp":"2022-11-03T20:26:10.344Z","data":{"user_id":"u1"}}`},
		{"an empty object", "user.deleted", struct{}{},
			`{"type":"user.deleted","timestamp":"2022-11-03T20:26:10.344Z","data":{}}`},
		{"data that is not an object", "user.deleted", []string{"u1"}, ""},
		{"no data", "user.deleted", nil, ""},
		{"data that does not encode", "user.deleted", map[string]any{"f": func() {}}, ""},
		{"an empty type", "", struct{}{}, ""},
		{"an empty segment", "user..created", struct{}{}, ""},
		{"a wildcard", "user.*", struct{}{}, ""},
		{"a hyphen", "user.email-changed", struct{}{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := webhook.Payload(tt.typ, ts, tt.data)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Payload = %s, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Payload = %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
}
