package thunder

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/usherhq/usher/internal/account"
)

// render writes rec in Thunder's JSON: the email object (with the live
// verification token), the password field (the stored hash, or null when
// the answer goes to a caller without credentials), custom properties at the top level, epoch-millisecond times.
func render(w http.ResponseWriter, status int, rec account.Record, hash bool) error {
	var b bytes.Buffer
	b.WriteString(`{"email":{"address":`)
	writeString(&b, rec.Email)
	b.WriteString(`,"verified":`)
	b.WriteString(strconv.FormatBool(rec.Confirmed))
	b.WriteString(`,"verificationToken":`)
	if rec.VerifyToken == "" {
		b.WriteString("null")
	} else {
		writeString(&b, rec.VerifyToken)
	}
	b.WriteString(`},"password":`)
	if shown := account.ShownHash(rec.User); hash && shown != "" {
		writeString(&b, shown)
	} else {
		b.WriteString("null")
	}
	// Data stored before reserved names were refused may hold one (in any
	// case); such a key is left out rather than shadow Thunder's fields.
	dec := json.NewDecoder(bytes.NewReader(rec.Data))
	if _, err := dec.Token(); err == nil {
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				break
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				break
			}
			k := kt.(string)
			if account.IsReservedKey(k) {
				continue
			}
			b.WriteByte(',')
			writeString(&b, k)
			b.WriteByte(':')
			b.Write(v)
		}
	}
	b.WriteString(`,"creationTime":`)
	b.WriteString(strconv.FormatInt(rec.CreatedAt.UnixMilli(), 10))
	b.WriteString(`,"lastUpdateTime":`)
	b.WriteString(strconv.FormatInt(rec.UpdatedAt.UnixMilli(), 10))
	b.WriteByte('}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}
