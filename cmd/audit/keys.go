package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"

	"github.com/trailkit/audit"
)

// readPublicKey reads the Ed25519 public key in the file at path: PEM
// ("PUBLIC KEY", as "openssl pkey -pubout" writes it), or the key's 32
// bytes in base64, base64url or hex on one line (base64url is how a
// checkpoint names it). A private key file (see readPrivateKey) gives its
// public half. A file that holds none is a usage error.
func readPublicKey(path string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(raw); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if pub, ok := k.(ed25519.PublicKey); ok && err == nil {
				return pub, nil
			}
		case "PRIVATE KEY":
			if priv, err := parsePKCS8(block.Bytes); err == nil {
				return priv.Public().(ed25519.PublicKey), nil
			}
		}
		return nil, usagef("--key %s: not an Ed25519 key (a PEM %q block)", path, block.Type)
	}
	b, err := decodeKeyText(raw)
	switch {
	case err == nil && len(b) == ed25519.PublicKeySize:
		return ed25519.PublicKey(b), nil
	case err == nil && len(b) == ed25519.PrivateKeySize:
		if priv, err := fullPrivateKey(b); err == nil {
			return priv.Public().(ed25519.PublicKey), nil
		}
	}
	return nil, usagef("--key %s: not an Ed25519 public key (PEM, or 32 bytes in base64 or hex)", path)
}

// readPrivateKey reads the Ed25519 private key in the file at path: PEM
// ("PRIVATE KEY", PKCS #8, as "openssl genpkey -algorithm ed25519"
// writes it), or its 32-byte seed or 64-byte key in base64, base64url or
// hex on one line. A file that holds none is a usage error.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(raw); block != nil {
		if block.Type == "PRIVATE KEY" {
			if priv, err := parsePKCS8(block.Bytes); err == nil {
				return priv, nil
			}
		}
		return nil, usagef("--key %s: not an Ed25519 private key (a PEM %q block)", path, block.Type)
	}
	b, err := decodeKeyText(raw)
	switch {
	case err == nil && len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case err == nil && len(b) == ed25519.PrivateKeySize:
		if priv, err := fullPrivateKey(b); err == nil {
			return priv, nil
		}
	}
	return nil, usagef("--key %s: not an Ed25519 private key (PEM, or a 32-byte seed in base64 or hex)", path)
}

func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("not Ed25519")
	}
	return priv, nil
}

// fullPrivateKey checks that b, 64 bytes, is a seed and its public key.
func fullPrivateKey(b []byte) (ed25519.PrivateKey, error) {
	priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	if !bytes.Equal(priv, b) {
		return nil, errors.New("the public half does not match the seed")
	}
	return priv, nil
}

// decodeKeyText decodes one line of hex, base64 or base64url.
func decodeKeyText(raw []byte) ([]byte, error) {
	s := string(bytes.TrimSpace(raw))
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("neither hex nor base64")
}

// signingOptions opens a log that signs its checkpoints with the private
// key in keyFile; none when keyFile is "".
func signingOptions(keyFile string) ([]audit.Option, error) {
	if keyFile == "" {
		return nil, nil
	}
	priv, err := readPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	return []audit.Option{audit.WithCheckpointKey(priv)}, nil
}
