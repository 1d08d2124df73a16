package align

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gtank/ristretto255"
)

// testRand is a deterministic random source for reproducible tests.
func testRand(seed uint64) io.Reader {
	return rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'a', 'l', 'i', 'g', 'n'})
}

func mustKey(t testing.TB, seed uint64) *Key {
	t.Helper()
	k, err := NewKey(testRand(seed))
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	return k
}

func TestKeyNeverPrints(t *testing.T) {
	k := mustKey(t, 1)
	secret := base64.StdEncoding.EncodeToString(k.s[:])
	encoded := k.s[:]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for name, arg := range map[string]any{"pointer": k, "value": *k} {
			t.Run(verb+"/"+name, func(t *testing.T) {
				got := fmt.Sprintf(verb, arg)
				if strings.Contains(got, secret) || strings.Contains(got, fmt.Sprintf("%x", encoded)) ||
					strings.Contains(got, fmt.Sprint(encoded[0], " ", encoded[1])) {
					t.Fatalf("%s printed the key: %q", verb, got)
				}
				if !strings.Contains(got, "redacted") {
					t.Fatalf("%s = %q, want the redacted form", verb, got)
				}
			})
		}
	}
	if got := k.String(); got != "align.Key(redacted)" {
		t.Fatalf("String() = %q", got)
	}
}

func TestNewKey(t *testing.T) {
	t.Run("deterministic source gives the same key", func(t *testing.T) {
		a, b := mustKey(t, 7), mustKey(t, 7)
		if a.s != b.s {
			t.Fatal("same seed, different keys")
		}
		c := mustKey(t, 8)
		if a.s == c.s {
			t.Fatal("different seeds, same key")
		}
	})
	t.Run("nil source uses crypto/rand", func(t *testing.T) {
		a, err := NewKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.s == b.s {
			t.Fatal("two crypto/rand keys are equal")
		}
	})
	t.Run("short source fails", func(t *testing.T) {
		_, err := NewKey(bytes.NewReader(make([]byte, 10)))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
		}
	})
	t.Run("zero source is refused", func(t *testing.T) {
		_, err := NewKey(bytes.NewReader(make([]byte, 32)))
		if !errors.Is(err, ErrBadKey) {
			t.Fatalf("err = %v, want ErrBadKey", err)
		}
	})
}

func TestBadKeyRefused(t *testing.T) {
	ctx := context.Background()
	erased := mustKey(t, 3)
	erased.Erase()
	for name, k := range map[string]*Key{"nil": nil, "erased": erased} {
		t.Run(name, func(t *testing.T) {
			if _, err := BlindIDs(ctx, k, []string{"x"}, 1); !errors.Is(err, ErrBadKey) {
				t.Fatalf("BlindIDs err = %v, want ErrBadKey", err)
			}
			if _, err := Blind(ctx, k, [][]byte{HashID("x")}, 1); !errors.Is(err, ErrBadKey) {
				t.Fatalf("Blind err = %v, want ErrBadKey", err)
			}
		})
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func TestBlindIDsIsHashThenBlind(t *testing.T) {
	ctx := context.Background()
	k := mustKey(t, 1)
	in := append(ids("p", 300), "", "\x00", "émile", strings.Repeat("x", 10000))
	got, err := BlindIDs(ctx, k, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	hashed := make([][]byte, len(in))
	for i, id := range in {
		hashed[i] = HashID(id)
	}
	want, err := Blind(ctx, k, hashed, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("element %d: BlindIDs %x, Blind(HashID) %x", i, got[i], want[i])
		}
		if len(got[i]) != ElementSize || cap(got[i]) != ElementSize {
			t.Fatalf("element %d: len %d cap %d, want %d", i, len(got[i]), cap(got[i]), ElementSize)
		}
	}
	// The domain separator matters: H(id) is not the plain hash of id.
	var plain ristretto255.Element
	sum := sha512.Sum512([]byte("p-0"))
	plain.FromUniformBytes(sum[:])
	plainU := make([]byte, ElementSize)
	if err := newMontgomeryMap().uCoordinate(plainU, &plain); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(plainU, HashID("p-0")) {
		t.Fatal("HashID ignores its domain separator")
	}
	// Distinct ids give distinct elements; the 0x00 separator keeps prefixes apart.
	seen := map[string]string{}
	for _, id := range in {
		h := string(HashID(id))
		if prev, dup := seen[h]; dup {
			t.Fatalf("ids %q and %q hash to the same element", prev, id)
		}
		seen[h] = id
	}
}

func TestBlindCommutes(t *testing.T) {
	ctx := context.Background()
	k1, k2, k3 := mustKey(t, 1), mustKey(t, 2), mustKey(t, 3)
	in := ids("c", 50)
	chain := func(first *Key, rest ...*Key) [][]byte {
		t.Helper()
		e, err := BlindIDs(ctx, first, in, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range rest {
			if e, err = Blind(ctx, k, e, 2); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	a, b, c := chain(k1, k2, k3), chain(k3, k1, k2), chain(k2, k3, k1)
	for i := range in {
		if !bytes.Equal(a[i], b[i]) || !bytes.Equal(a[i], c[i]) {
			t.Fatalf("element %d differs by blinding order", i)
		}
	}
	partial := chain(k1, k2)
	for i := range in {
		if bytes.Equal(partial[i], a[i]) {
			t.Fatalf("element %d: two keys give the same pseudonym as three", i)
		}
	}
}

func TestParallelVisitsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, blockSize - 1, blockSize, blockSize + 1, 7*blockSize + 17} {
		for _, w := range []int{-1, 0, 1, 2, 3, 64} {
			t.Run(fmt.Sprintf("n=%d/workers=%d", n, w), func(t *testing.T) {
				visits := make([]atomic.Int32, n)
				err := parallel(context.Background(), n, w, func() func(int) error {
					return func(i int) error {
						visits[i].Add(1)
						return nil
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				for i := range visits {
					if v := visits[i].Load(); v != 1 {
						t.Fatalf("index %d visited %d times", i, v)
					}
				}
			})
		}
	}
}

func TestParallelReportsSmallestFailingIndex(t *testing.T) {
	bad := map[int]bool{3*blockSize + 5: true, 5*blockSize + 1: true}
	for _, w := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", w), func(t *testing.T) {
			err := parallel(context.Background(), 6*blockSize, w, func() func(int) error {
				return func(i int) error {
					if bad[i] {
						return fmt.Errorf("index %d", i)
					}
					return nil
				}
			})
			// Work stops at the first failure seen, so a later failure may
			// be the only one found, but never an index that is fine.
			if err == nil || (err.Error() != fmt.Sprint("index ", 3*blockSize+5) && err.Error() != fmt.Sprint("index ", 5*blockSize+1)) {
				t.Fatalf("err = %v", err)
			}
			if w == 1 && err.Error() != fmt.Sprint("index ", 3*blockSize+5) {
				t.Fatalf("one worker: err = %v, want the first bad index", err)
			}
		})
	}
}

func TestWorkersAgree(t *testing.T) {
	ctx := context.Background()
	k := mustKey(t, 5)
	in := ids("w", blockSize+17)
	ref, err := BlindIDs(ctx, k, in, 1)
	if err != nil {
		t.Fatal(err)
	}
	refAgain, err := Blind(ctx, k, ref, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := BlindIDs(ctx, k, in, 2)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Blind(ctx, k, got, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || len(again) != len(in) {
		t.Fatalf("got %d and %d elements for %d ids", len(got), len(again), len(in))
	}
	for i := range ref {
		if !bytes.Equal(got[i], ref[i]) || !bytes.Equal(again[i], refAgain[i]) {
			t.Fatalf("element %d differs between 1 and 2 workers", i)
		}
	}
	empty, err := BlindIDs(ctx, k, nil, 2)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty input: %v, %d elements", err, len(empty))
	}
}

func TestBlindRejectsBadElements(t *testing.T) {
	ctx := context.Background()
	k := mustKey(t, 1)
	good := HashID("good")
	hexBytes := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		bad  []byte
	}{
		{"nil", nil},
		{"short", good[:31]},
		{"long", append(append([]byte{}, good...), 0)},
		// Non-canonical u-coordinates: p, p+1, top bit set.
		{"p", hexBytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")},
		{"p+1", hexBytes("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")},
		{"all ones", bytes.Repeat([]byte{0xff}, 32)},
		{"top bit set", append(append([]byte{}, good[:31]...), good[31]|0x80)},
		// Low-order points (the small-order u-coordinates of Curve25519 and
		// its twist, Bernstein's list): their blinding is zero.
		{"u = 0", make([]byte, 32)},
		{"u = 1", hexBytes("0100000000000000000000000000000000000000000000000000000000000000")},
		{"order 8 a", hexBytes("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")},
		{"order 8 b", hexBytes("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")},
		{"u = p-1", hexBytes("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, at := range []struct{ n, bad, workers int }{{5, 3, 1}, {blockSize + 4, blockSize + 2, 2}} {
				list := make([][]byte, at.n)
				for i := range list {
					list[i] = good
				}
				list[at.bad] = c.bad
				out, err := Blind(ctx, k, list, at.workers)
				if !errors.Is(err, ErrBadElement) {
					t.Fatalf("workers=%d: err = %v, want ErrBadElement", at.workers, err)
				}
				if out != nil {
					t.Fatal("output returned with an error")
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("element %d ", at.bad)) {
					t.Fatalf("error does not name the index: %v", err)
				}
			}
		})
	}
}

func TestCancellation(t *testing.T) {
	k := mustKey(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BlindIDs(ctx, k, ids("x", 10), 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("BlindIDs err = %v, want context.Canceled", err)
	}
	if _, err := Blind(ctx, k, [][]byte{HashID("x")}, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Blind err = %v, want context.Canceled", err)
	}

	// Cancel while blinding: the work stops before the end.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	const n = 100 * blockSize
	var done atomic.Int64
	err := parallel(ctx, n, 2, func() func(int) error {
		return func(int) error {
			if done.Add(1) == blockSize {
				cancel()
			}
			return nil
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := done.Load(); d >= n {
		t.Fatalf("all %d elements processed despite cancellation", d)
	}
}

func FuzzBlind(f *testing.F) {
	f.Add(HashID("a"), uint8(32))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint8(32))
	f.Add(make([]byte, 96), uint8(31))
	f.Add(append(HashID("a"), HashID("b")...), uint8(32))
	f.Add([]byte{}, uint8(0))
	k, err := NewKey(testRand(9))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, width uint8) {
		// Split the hostile bytes into elements of the fuzzed width.
		var elems [][]byte
		w := int(width)%40 + 1
		for len(data) > 0 && len(elems) < 64 {
			n := min(w, len(data))
			elems = append(elems, data[:n])
			data = data[n:]
		}
		out, err := Blind(context.Background(), k, elems, 2)
		if err != nil {
			if !errors.Is(err, ErrBadElement) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(out) != len(elems) {
			t.Fatalf("%d outputs for %d inputs", len(out), len(elems))
		}
		for i, o := range out {
			if err := checkElement(o); err != nil || o == nil {
				t.Fatalf("output %d is not a canonical u-coordinate: %v", i, err)
			}
			if bytes.Equal(o, make([]byte, ElementSize)) {
				t.Fatalf("output %d is zero", i)
			}
		}
	})
}
