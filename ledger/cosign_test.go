package ledger

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"testing"
)

func FuzzParseAddCheckpoint(f *testing.F) {
	h := bytes.Repeat([]byte{7}, 32)
	f.Add([]byte(fmt.Sprintf("old 5\n%s\n\norigin\n8\nroot\n\n— sig\n", base64.StdEncoding.EncodeToString(h))))
	f.Add([]byte("old 0\n\ncp\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, proof, cp, err := parseAddCheckpoint(body)
		if err != nil {
			return
		}
		// Re-encoding as tessera does yields the same body.
		var b bytes.Buffer
		fmt.Fprintf(&b, "old %d\n", old)
		for _, p := range proof {
			if len(p) != 32 {
				t.Fatalf("proof hash of %d bytes accepted", len(p))
			}
			b.WriteString(base64.StdEncoding.EncodeToString(p) + "\n")
		}
		b.WriteString("\n")
		b.Write(cp)
		if !bytes.Equal(b.Bytes(), body) {
			t.Fatalf("non-canonical body accepted:\n%q\n%q", body, b.Bytes())
		}
	})
}
