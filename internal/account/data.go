package account

import (
	"bytes"
	"encoding/json"

	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// Limits on custom data.
const (
	MaxDataBytes = 64 << 10
	MaxDataDepth = 32
)

// NormalizeData validates custom data (a JSON object, at most MaxDataBytes
// encoded, nested at most MaxDataDepth deep, no duplicate or case-variant
// keys) and returns it compacted. Empty input becomes "{}".
func NormalizeData(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if raw[0] != '{' {
		return nil, usher.Errorf(usher.InvalidData, "Data must be a JSON object.")
	}
	if _, err := strictjson.Check(raw, MaxDataDepth); err != nil {
		return nil, usher.Wrap(usher.InvalidData, "Data is not acceptable: "+err.Error(), nil)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, usher.Errorf(usher.InvalidData, "Data must be a JSON object.")
	}
	if buf.Len() > MaxDataBytes {
		return nil, usher.Errorf(usher.InvalidData, "Data must be at most %d bytes encoded.", MaxDataBytes)
	}
	return json.RawMessage(buf.Bytes()), nil
}
