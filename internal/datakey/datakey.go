// Package datakey loads the data key: the 32-byte key that seals secrets at
// rest (signing keys, verification tokens, queued email). It comes from the
// configuration or from a file in the data directory, made on first start.
package datakey

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/usherhq/usher/internal/token"
)

// FileName is the key file inside the data directory.
const FileName = "secret.key"

// Open returns the Box of the data key: secret (base64, from the
// configuration) when set, else the key file in dataDir, which is created
// (mode 0600, synced) when it does not exist yet.
func Open(dataDir, secret string) (*token.Box, error) {
	if secret != "" {
		k, err := base64.StdEncoding.DecodeString(secret)
		if err != nil || len(k) != 32 {
			return nil, errors.New("secret-key: not 32 bytes of base64")
		}
		return token.NewBox(k)
	}
	path := filepath.Join(dataDir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("secret key %s: not 32 bytes of base64", path)
	}
	return token.NewBox(k)
}

// create writes a new random key to path, which must not exist (two
// processes starting at once cannot both write one), and returns its text.
func create(path string) ([]byte, error) {
	k := make([]byte, 32)
	rand.Read(k)
	enc := []byte(base64.StdEncoding.EncodeToString(k) + "\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(enc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return enc, nil
}
