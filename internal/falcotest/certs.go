package falcotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certLifetime is how long the certificates made here are valid: long
// enough for a demo left running, short enough to be plainly for tests.
const certLifetime = 30 * 24 * time.Hour

// CA is an in-memory certificate authority for Falco's mutual TLS.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// KeyPair is a PEM certificate and its PEM (PKCS #8) private key.
type KeyPair struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a self-signed ECDSA P-256 certificate authority.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	tmpl, err := template(name)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Pool returns a pool holding only this CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// WriteFile writes the CA's certificate to path.
func (c *CA) WriteFile(path string) error {
	if err := os.WriteFile(path, c.pem, 0o644); err != nil {
		return fmt.Errorf("write ca: %w", err)
	}
	return nil
}

// ServerCert issues a server certificate for hosts (IP addresses or DNS
// names), by default 127.0.0.1 and localhost.
func (c *CA) ServerCert(hosts ...string) (KeyPair, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	tmpl, err := template(hosts[0])
	if err != nil {
		return KeyPair{}, err
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return c.issue(tmpl)
}

// ClientCert issues a client certificate named name.
func (c *CA) ClientCert(name string) (KeyPair, error) {
	tmpl, err := template(name)
	if err != nil {
		return KeyPair{}, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return c.issue(tmpl)
}

// issue signs tmpl with a new key.
func (c *CA) issue(tmpl *x509.Certificate) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("key: %w", err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("key: %w", err)
	}
	return KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// template starts a certificate valid from an hour ago.
func template(name string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"falcotest"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
	}, nil
}

// TLS returns the pair for a tls.Config.
func (k KeyPair) TLS() (tls.Certificate, error) {
	c, err := tls.X509KeyPair(k.CertPEM, k.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key pair: %w", err)
	}
	return c, nil
}

// WriteFiles writes name.crt and name.key into dir, the key readable by
// its owner only, and returns their paths.
func (k KeyPair) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, k.CertPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, k.KeyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("write key: %w", err)
	}
	return certFile, keyFile, nil
}

// ServerConfig is Falco's TLS set-up: the server's pair, and client
// certificates required and verified against clients.
func ServerConfig(server KeyPair, clients *CA) (*tls.Config, error) {
	if clients == nil {
		return nil, errors.New("server tls: no client CA")
	}
	cert, err := server.TLS()
	if err != nil {
		return nil, fmt.Errorf("server tls: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    clients.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// MTLS is a complete mutual TLS set-up: one CA, a server configuration for
// 127.0.0.1 and localhost, and a client's files.
type MTLS struct {
	CA                        *CA
	Server                    *tls.Config
	CertFile, KeyFile, CAFile string
}

// NewMTLS makes a CA, a server configuration and a client certificate,
// writing client.crt, client.key and ca.crt into dir.
func NewMTLS(dir string) (*MTLS, error) {
	ca, err := NewCA("falcotest CA")
	if err != nil {
		return nil, err
	}
	server, err := ca.ServerCert()
	if err != nil {
		return nil, err
	}
	cfg, err := ServerConfig(server, ca)
	if err != nil {
		return nil, err
	}
	client, err := ca.ClientCert("falco-reporter")
	if err != nil {
		return nil, err
	}
	certFile, keyFile, err := client.WriteFiles(dir, "client")
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := ca.WriteFile(caFile); err != nil {
		return nil, err
	}
	return &MTLS{CA: ca, Server: cfg, CertFile: certFile, KeyFile: keyFile, CAFile: caFile}, nil
}
