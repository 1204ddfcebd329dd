package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevFiles are the paths of the development certificate authority's files
// inside a data directory.
type DevFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// DevPaths returns the dev CA's file paths under dir/tls.
func DevPaths(dataDir string) DevFiles {
	d := filepath.Join(dataDir, "tls")
	return DevFiles{
		CA:         filepath.Join(d, "ca.pem"),
		ServerCert: filepath.Join(d, "server.pem"),
		ServerKey:  filepath.Join(d, "server-key.pem"),
		ClientCert: filepath.Join(d, "client.pem"),
		ClientKey:  filepath.Join(d, "client-key.pem"),
	}
}

// EnsureDevCA creates the development CA, a server certificate for
// 127.0.0.1, ::1 and localhost, and a client certificate, unless they exist.
// It reports whether it created them. The CA file is written last, so its
// presence means the set is complete.
func EnsureDevCA(dataDir string, now time.Time) (DevFiles, bool, error) {
	f := DevPaths(dataDir)
	if _, err := os.Stat(f.CA); err == nil {
		return f, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, false, err
	}
	if err := os.MkdirAll(filepath.Dir(f.CA), 0o700); err != nil {
		return f, false, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, false, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Usher development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, false, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, false, err
	}
	leaf := func(cn string, usage x509.ExtKeyUsage, certPath, keyPath string, dns []string, ips []net.IP) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.AddDate(2, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dns,
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(keyPath, "PRIVATE KEY", keyDER, 0o600); err != nil {
			return err
		}
		return writePEM(certPath, "CERTIFICATE", der, 0o644)
	}
	if err := leaf("localhost", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey,
		[]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}); err != nil {
		return f, false, err
	}
	if err := leaf("usher-dev-client", x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey, nil, nil); err != nil {
		return f, false, err
	}
	// The CA's key is not kept: nothing more is ever signed with it, so
	// nothing can forge a client certificate from the data directory.
	if err := writePEM(f.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return f, false, err
	}
	return f, true, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePEM writes atomically: a crash leaves the old file or the new one.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	return nil
}
