package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/datakey"
)

// TestLostDataKeyIsNotReplaced: a database restored without its data key
// is refused at start, and no new key is made in its place (it would open
// nothing the database holds).
func TestLostDataKeyIsNotReplaced(t *testing.T) {
	s := startServer(t)
	data, db := s.Config.Data, s.Config.DB
	s.Stop(t)
	keyFile := filepath.Join(data, datakey.FileName)
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: testConfig(t), HashParams: &cheapHash}
	m.Config.Data, m.Config.DB = data, db
	err := m.Start(t.Context())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "restore secret.key") {
		t.Fatalf("start without the data key: %v; want a refusal that says to restore secret.key", err)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("a new data key was made: %v", err)
	}
}
