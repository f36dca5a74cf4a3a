package redisstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// sealedMagic starts an encrypted value, so Load can tell it from a PEM
// key stored before encryption was turned on (and refuse it cleanly when
// the key is missing). v1: AES-256-GCM, 12-byte random nonce, the
// certmagic key as additional data (a value copied to another key does
// not decrypt).
var sealedMagic = []byte("cobrowse-proxy:aes256gcm:v1:")

type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("redisstore: encryption key is %d bytes, want 32 (AES-256)", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encryption key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// isPrivateKey: certmagic stores site and account private keys under keys
// ending in ".key" (StorageKeys.SitePrivateKey, UserPrivateKey).
func isPrivateKey(key string) bool { return strings.HasSuffix(key, ".key") }

func isSealed(v []byte) bool { return bytes.HasPrefix(v, sealedMagic) }

func (s *sealer) seal(key string, plain []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	out := make([]byte, len(sealedMagic)+n, len(sealedMagic)+n+len(plain)+s.aead.Overhead())
	copy(out, sealedMagic)
	if _, err := rand.Read(out[len(sealedMagic):]); err != nil {
		return nil, err
	}
	nonce := out[len(sealedMagic):]
	return s.aead.Seal(out, nonce, plain, []byte(key)), nil
}

var errDecrypt = errors.New("does not decrypt with storage.redis.encryptionKeyFile's key (a different key on another replica?)")

func (s *sealer) open(key string, v []byte) ([]byte, error) {
	body := v[len(sealedMagic):]
	n := s.aead.NonceSize()
	if len(body) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, errDecrypt)
	}
	plain, err := s.aead.Open(nil, body[:n], body[n:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, errDecrypt)
	}
	return plain, nil
}
