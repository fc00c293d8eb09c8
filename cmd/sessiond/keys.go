package main

import (
	"encoding/base64"
	"fmt"

	"github.com/sessiond/sessiond/cluster"
)

// parseKeys parses --cluster-key: comma-separated base64 keys of 16, 24 or
// 32 bytes, at most cluster.MaxKeys, the first the one that encrypts. An
// error names the key by its position, never by its text. Empty: none.
func parseKeys(s string) ([][]byte, error) {
	texts := splitList(s)
	if len(texts) > cluster.MaxKeys {
		return nil, fmt.Errorf("%d keys: at most %d (a rotation needs two)", len(texts), cluster.MaxKeys)
	}
	var keys [][]byte
	for i, text := range texts {
		k, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("key %d of %d: want base64 (openssl rand -base64 32)", i+1, len(texts))
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("key %d of %d: %d bytes: want 16, 24 or 32", i+1, len(texts), n)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
