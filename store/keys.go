package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Keys made of outside data (links, GUIDs, identities, article URLs) are
// bounded: bbolt refuses keys over 32 KiB, and one refused key rolls back
// the whole poll it belongs to. A value longer than maxKeyBytes is keyed by
// its first keptKeyPrefix bytes (so the keys of one source still sort
// together) and the SHA-256 of the whole.
const (
	maxKeyBytes   = 512
	keptKeyPrefix = 256
	// hashedKeyMark separates the kept prefix from the hash. Canonical
	// URLs, cleaned GUIDs and identities hold no control characters, so a
	// bounded key never equals the key of a short value.
	hashedKeyMark = 0x01
	// MaxNameBytes bounds the source and channel ids the store keys by;
	// the config refuses longer ones.
	MaxNameBytes = 128
)

// boundedKey is the key under which s is stored.
func boundedKey(s string) []byte {
	if len(s) <= maxKeyBytes {
		return []byte(s)
	}
	sum := sha256.Sum256([]byte(s))
	k := make([]byte, 0, keptKeyPrefix+1+hex.EncodedLen(len(sum)))
	k = append(k, s[:keptKeyPrefix]...)
	k = append(k, hashedKeyMark)
	return hex.AppendEncode(k, sum[:])
}

// getBounded reads the value kept for s. Before keys were bounded, a value
// of up to bbolt's limit was its own key: such entries are still found.
func getBounded(b *bolt.Bucket, s string) []byte {
	if s == "" {
		return nil
	}
	if v := b.Get(boundedKey(s)); v != nil || len(s) <= maxKeyBytes || len(s) > bolt.MaxKeySize {
		return v
	}
	return b.Get([]byte(s))
}

// checkName refuses a source or channel id too long to key by.
func checkName(what, id string) error {
	if id == "" {
		return fmt.Errorf("empty %s id", what)
	}
	if len(id) > MaxNameBytes {
		return fmt.Errorf("%s id of %d bytes is over %d", what, len(id), MaxNameBytes)
	}
	return nil
}

// clip shortens outside text for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
