package coordinator

import (
	"crypto/rand"
	"encoding/hex"
)

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
