package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/usherhq/usher/internal/strictjson"
	"github.com/usherhq/usher/internal/usher"
)

// Body limits.
const (
	MaxBodyBytes = 1 << 20
	MaxBodyDepth = 33 // custom data (depth 32) inside a request object
)

// ReadBody reads a request body after checking its content type (JSON or
// none) and its size, and validates it with strictjson: valid UTF-8, one JSON
// value, no duplicate or case-variant keys, nesting at most maxDepth.
func ReadBody(r *http.Request, maxDepth int) ([]byte, error) {
	body, _, err := readBody(r, maxDepth)
	return body, err
}

func readBody(r *http.Request, maxDepth int) (body []byte, topKeys []string, err error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, nil, usher.Errorf(usher.MediaType, "Content-Type must be application/json.")
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, nil, errTooLarge
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, nil, usher.Wrap(usher.InvalidJSON, "Request body could not be read.", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, nil, errTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, ErrEmptyBody
	}
	topKeys, err = strictjson.Check(body, maxDepth)
	if err != nil {
		return nil, nil, usher.Wrap(usher.InvalidJSON, err.Error(), nil)
	}
	return body, topKeys, nil
}

// ErrEmptyBody is the error for a request without a body.
var ErrEmptyBody = usher.Errorf(usher.InvalidJSON, "Request body is empty.")

var errTooLarge = usher.Errorf(usher.TooLarge, "Request body must be at most 1 MiB.")

// Decode reads a fixed-shape JSON object into dst, a pointer to a struct
// whose json tags name every accepted key. A key not named there (including
// one that differs only in case, which encoding/json would accept) is 400.
func Decode(r *http.Request, dst any) error {
	body, keys, err := readBody(r, MaxBodyDepth)
	if err != nil {
		return err
	}
	if bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return usher.Errorf(usher.InvalidJSON, "Request body must be a JSON object.")
	}
	allowed := fieldNames(reflect.TypeOf(dst).Elem())
	for _, k := range keys {
		if _, ok := allowed[k]; !ok {
			return usher.Errorf(usher.InvalidJSON, "Unknown field %q.", k)
		}
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return usher.Errorf(usher.InvalidJSON, "Field %q has the wrong type.", te.Field)
		}
		return usher.Errorf(usher.InvalidJSON, "Request body is not valid JSON.")
	}
	return nil
}

var fieldCache sync.Map // reflect.Type -> map[string]struct{}

// fieldNames returns the JSON keys of a struct type's fields.
func fieldNames(t reflect.Type) map[string]struct{} {
	if v, ok := fieldCache.Load(t); ok {
		return v.(map[string]struct{})
	}
	names := map[string]struct{}{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names[name] = struct{}{}
		}
	}
	fieldCache.Store(t, names)
	return names
}
