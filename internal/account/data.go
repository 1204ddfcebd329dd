package account

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// Limits on custom data.
const (
	MaxDataBytes = 64 << 10
	MaxDataDepth = 32
)

// reservedKeys are the top-level names of a user's own fields on the
// surfaces that put custom data beside them (Thunder's user JSON), lower
// case.
var reservedKeys = map[string]bool{"email": true, "password": true, "creationtime": true, "lastupdatetime": true}

// IsReservedKey reports whether k names a user field in any letter case:
// custom data may not use it, or a user read on one surface and written
// back on another would carry two fields of one name.
func IsReservedKey(k string) bool {
	return len(k) <= len("lastupdatetime") && reservedKeys[strings.ToLower(k)]
}

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
	keys, err := strictjson.Check(raw, MaxDataDepth)
	if err != nil {
		return nil, usher.Wrap(usher.InvalidData, "Data is not acceptable: "+err.Error(), nil)
	}
	for _, k := range keys {
		if IsReservedKey(k) {
			return nil, usher.Errorf(usher.InvalidData, "Data key %q is reserved: it names a field of the user.", k)
		}
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

// ShownHash returns the hash a surface that shows hashes (Thunder's
// password field) may show for u: its stored hash, or "" when the hash
// carries a secret beyond u's (an imported Firebase hash holds the Firebase
// project's key; it is replaced by argon2id at the user's first sign-in).
func ShownHash(u usher.User) string {
	if password.CarriesSecret(u.Hash) {
		return ""
	}
	return u.Hash
}
