package coordinator

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/mpc"
)

// testSet is the fast insecure parameter set, "for the sole purpose of
// fast testing".
const testSet = "insecure-test-n12"

// testConsortium is an in-memory key ceremony: each party's secret key,
// the collective public key and the rotation keys the coordinator packs
// with, plus an analyst's key pair.
type testConsortium struct {
	params *mpc.Params
	names  []string
	sks    map[string]*rlwe.SecretKey
	pk     *rlwe.PublicKey
	evk    *rlwe.MemEvaluationKeySet
	ask    *rlwe.SecretKey
	apk    *rlwe.PublicKey
}

var (
	fixtureOnce sync.Once
	fixture     *testConsortium
	fixtureErr  error
)

// newTestConsortium returns the shared consortium of two parties, bank
// and telecom, built once per test binary (the rotation keys take a
// moment).
func newTestConsortium(t testing.TB) *testConsortium {
	t.Helper()
	fixtureOnce.Do(func() { fixture, fixtureErr = buildConsortium("bank", "telecom") })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func buildConsortium(names ...string) (*testConsortium, error) {
	p, err := mpc.NewParams(testSet)
	if err != nil {
		return nil, err
	}
	tr := mpc.Transcript{Consortium: "test", ID: "c-test", ParamSet: testSet, Parties: names, Nonces: map[string][]byte{}}
	c := &testConsortium{params: p, names: names, sks: map[string]*rlwe.SecretKey{}}
	for _, n := range names {
		nonce := make([]byte, mpc.NonceSize)
		_, _ = rand.Read(nonce)
		tr.Nonces[n] = nonce
		c.sks[n] = p.NewSecretKey()
	}
	seed, err := tr.Seed()
	if err != nil {
		return nil, err
	}
	shares := map[string][]byte{}
	for n, sk := range c.sks {
		if shares[n], err = p.GenPublicKeyShare(sk, seed); err != nil {
			return nil, err
		}
	}
	if c.pk, err = p.AggregatePublicKey(seed, shares); err != nil {
		return nil, err
	}
	var gks []*rlwe.GaloisKey
	for _, el := range p.GaloisElements() {
		gshares := map[string][]byte{}
		for n, sk := range c.sks {
			if gshares[n], err = p.GenGaloisKeyShare(sk, seed, el); err != nil {
				return nil, err
			}
		}
		gk, err := p.AggregateGaloisKey(seed, el, gshares)
		if err != nil {
			return nil, err
		}
		gks = append(gks, gk)
	}
	c.evk = rlwe.NewMemEvaluationKeySet(nil, gks...)
	c.ask = p.NewSecretKey()
	c.apk = rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(c.ask)
	return c, nil
}

// chainOutput runs one output through a chain of two parties as the
// daemons do: the first encrypts a, the second multiplies by b and
// rescales, leaving a ciphertext at the decryption level.
func (c *testConsortium) chainOutput(t testing.TB, a, b []uint64) *rlwe.Ciphertext {
	t.Helper()
	w := c.params.NewWorker(c.pk, nil)
	ct, err := w.EncryptBlock(a, 2)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := w.Encode(b, ct.Level(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ct, err = w.MulBlock(ct, pt); err != nil {
		t.Fatal(err)
	}
	if ct.Level() != mpc.DecryptLevel {
		t.Fatalf("chain output at level %d, want %d", ct.Level(), mpc.DecryptLevel)
	}
	return ct
}

// decryptionShares returns every party's share of switching each total to
// the analyst's key, as collectShares gathers them.
func (c *testConsortium) decryptionShares(t testing.TB, totals []*rlwe.Ciphertext) []map[string][]byte {
	t.Helper()
	out := make([]map[string][]byte, len(totals))
	for i, ct := range totals {
		out[i] = map[string][]byte{}
		for n, sk := range c.sks {
			sh, err := c.params.DecryptShare(sk, c.apk, ct, nil)
			if err != nil {
				t.Fatal(err)
			}
			out[i][n] = sh
		}
	}
	return out
}
