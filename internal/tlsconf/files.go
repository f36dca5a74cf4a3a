package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// fileSource serves a certificate pair from PEM files and reloads it when
// either file changes, so that a rotation by cert-manager (which swaps the
// files behind a symlink) needs no restart. The pair in force is replaced
// only by one that loads, has a key matching the certificate and has not
// expired: a half-written or mismatched pair is refused, logged, and the
// old one kept.
type fileSource struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	now               func() time.Time
	metrics           *Metrics

	cert atomic.Pointer[tls.Certificate]

	mu    sync.Mutex // serialises reloads; guards seen and names
	seen  fileStamp  // the files as last tried, loaded or refused
	names []string   // expiry series of the pair in force
}

// fileStamp identifies a version of the two files cheaply, without reading
// them.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func newFileSource(f config.TLSFiles, log *slog.Logger, now func() time.Time, met *Metrics) (*fileSource, error) {
	s := &fileSource{certFile: f.CertFile, keyFile: f.KeyFile, interval: f.ReloadInterval, log: log, now: now, metrics: met}
	if s.interval <= 0 {
		s.interval = config.DefaultTLSReloadInterval
	}
	stamp, err := s.stat()
	if err != nil {
		return nil, err
	}
	cert, err := s.load()
	if err != nil {
		return nil, err
	}
	s.seen = stamp
	s.install(cert)
	return s, nil
}

func (s *fileSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

func (s *fileSource) stat() (fileStamp, error) {
	cf, err := os.Stat(s.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("tls.files.certFile: %w", err)
	}
	kf, err := os.Stat(s.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("tls.files.keyFile: %w", err)
	}
	return fileStamp{certMod: cf.ModTime(), keyMod: kf.ModTime(), certSize: cf.Size(), keySize: kf.Size()}, nil
}

// load reads and checks the pair without installing it.
func (s *fileSource) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls.files certFile %s and keyFile %s: %w", s.certFile, s.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", s.certFile, err)
		}
	}
	if now := s.now(); now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s expired at %s; renew it", s.certFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

func (s *fileSource) install(cert *tls.Certificate) {
	s.cert.Store(cert)
	names := s.metrics.setExpiry(cert.Leaf)
	for _, old := range s.names {
		if !slices.Contains(names, old) {
			s.metrics.Expiry.DeleteLabelValues(old)
		}
	}
	s.names = names
}

// Reload checks the files now and loads them if they changed since the last
// attempt. It returns an error when the files cannot be read or the changed
// pair was refused; the certificate in force is then unchanged. A pair that
// failed is not tried again until a file changes once more, so a bad
// rotation is logged once, not at every check.
func (s *fileSource) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamp, err := s.stat()
	if err != nil {
		return err
	}
	if stamp == s.seen {
		return nil
	}
	s.seen = stamp
	cert, err := s.load()
	if err != nil {
		return err
	}
	s.install(cert)
	s.log.Info("tls certificate reloaded", "certFile", s.certFile, "names", s.names,
		"notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func (s *fileSource) watch(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reload(); err != nil {
				s.log.Error("tls certificate files refused; keeping the certificate in force", "error", err)
			}
		}
	}
}

// Reload checks the certificate files now (mode files), for a SIGHUP
// handler; in other modes it does nothing. See the files mode's rules:
// the pair in force is kept when the new one is refused.
func (m *Manager) Reload() error {
	if m.files == nil {
		return nil
	}
	return m.files.reload()
}
