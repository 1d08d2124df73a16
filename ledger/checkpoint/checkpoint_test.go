package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/mpcq/mpcq/ledger/internal/ledgertest"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

const origin = "ledger.test/log"

func TestParse(t *testing.T) {
	log := ledgertest.NewLogKey(t, origin)
	other := ledgertest.NewLogKey(t, "other.test/log")
	a := ledgertest.NewCosignerKey(t, "party-a")
	b := ledgertest.NewCosignerKey(t, "party-b")
	root := sha256.Sum256([]byte("root"))

	good := ledgertest.Sign(t, log, 10, root[:], a.Signer, b.Signer)
	onlyA := ledgertest.Sign(t, log, 10, root[:], a.Signer)
	empty := ledgertest.Sign(t, log, 0, rfc6962.DefaultHasher.EmptyRoot(), a.Signer, b.Signer)
	emptyBadRoot := ledgertest.Sign(t, log, 0, root[:], a.Signer, b.Signer)
	wrongOrigin := ledgertest.Sign(t, other, 10, root[:], a.Signer, b.Signer)
	tamperedText := bytes.Replace(good, []byte("\n10\n"), []byte("\n11\n"), 1)
	leadingZero := signText(t, origin+"\n010\n"+b64(root[:])+"\n", log.Signer, a.Signer, b.Signer)
	extension := signText(t, origin+"\n10\n"+b64(root[:])+"\nextra line\n", log.Signer, a.Signer, b.Signer)
	shortRoot := ledgertest.Sign(t, log, 10, root[:31], a.Signer, b.Signer)
	// Corrupt b's signature bytes while keeping its key hash intact.
	badCosig := bytes.Clone(good)
	if i := len(badCosig) - 10; badCosig[i] == 'A' {
		badCosig[i] = 'B'
	} else {
		badCosig[i] = 'A'
	}

	tests := []struct {
		name      string
		raw       []byte
		cosigners []note.Verifier
		want      error
	}{
		{"cosigned by all", good, []note.Verifier{a.Verifier, b.Verifier}, nil},
		{"no cosigners required", good, nil, nil},
		{"empty tree", empty, []note.Verifier{a.Verifier, b.Verifier}, nil},
		{"missing cosignature", onlyA, []note.Verifier{a.Verifier, b.Verifier}, ErrCosignature},
		{"invalid cosignature", badCosig, []note.Verifier{a.Verifier, b.Verifier}, ErrCosignature},
		{"wrong origin", wrongOrigin, nil, ErrLogSignature},
		{"tampered size", tamperedText, nil, ErrLogSignature},
		{"leading zero size", leadingZero, nil, ErrMalformed},
		{"extension line", extension, nil, ErrMalformed},
		{"short root", shortRoot, nil, ErrMalformed},
		{"empty tree wrong root", emptyBadRoot, nil, ErrMalformed},
		{"garbage", []byte("hello"), nil, ErrMalformed},
		{"empty", nil, nil, ErrMalformed},
		{"cosigner is the log", good, []note.Verifier{log.Verifier}, ErrCosignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := Parse(tc.raw, origin, log.Verifier, tc.cosigners...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse error = %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if cp.Origin != origin || !bytes.Equal(cp.Raw, tc.raw) {
				t.Fatalf("parsed %+v", cp)
			}
			for _, c := range tc.cosigners {
				if !cp.HasSignature(c) {
					t.Fatalf("HasSignature(%s) = false", c.Name())
				}
			}
		})
	}

	// Same origin, another key: the log signature is unverified.
	impostor := ledgertest.NewLogKey(t, origin)
	forged := ledgertest.Sign(t, impostor, 10, root[:])
	if _, err := Parse(forged, origin, log.Verifier); !errors.Is(err, ErrLogSignature) {
		t.Fatalf("checkpoint signed by another key accepted: %v", err)
	}
	// A log key used by another origin name is refused as wrong origin.
	if _, err := Parse(good, "elsewhere", log.Verifier); !errors.Is(err, ErrOrigin) {
		t.Fatalf("wrong expected origin: %v", err)
	}
}

func signText(t *testing.T, text string, signers ...note.Signer) []byte {
	t.Helper()
	raw, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func FuzzParse(f *testing.F) {
	log := ledgertest.NewLogKey(f, origin)
	a := ledgertest.NewCosignerKey(f, "party-a")
	root := sha256.Sum256([]byte("root"))
	f.Add(ledgertest.Sign(f, log, 10, root[:], a.Signer))
	f.Add(ledgertest.Sign(f, log, 0, rfc6962.DefaultHasher.EmptyRoot(), a.Signer))
	f.Add([]byte(origin + "\n1\nAAAA\n\n— x AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cp, err := Parse(raw, origin, log.Verifier, a.Verifier)
		if err != nil {
			return
		}
		if cp.Origin != origin || len(cp.Root) != 32 || !cp.HasSignature(a.Verifier) || !cp.HasSignature(log.Verifier) {
			t.Fatalf("accepted checkpoint violates invariants: %+v", cp)
		}
	})
}
