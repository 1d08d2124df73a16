package witness

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzDecodeState(f *testing.F) {
	good, _ := json.Marshal(stateFile{Version: 1, Size: 3, Root: bytes.Repeat([]byte{1}, 32), Checkpoint: "x\n"})
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := decodeState(raw)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := json.Marshal(stateFile{Version: 1, Size: st.Size, Root: st.Root, Checkpoint: string(st.Checkpoint)})
		if err != nil {
			t.Fatal(err)
		}
		st2, err := decodeState(again)
		if err != nil || st2.Size != st.Size || !bytes.Equal(st2.Root, st.Root) || !bytes.Equal(st2.Checkpoint, st.Checkpoint) {
			t.Fatalf("round trip: %+v vs %+v (%v)", st, st2, err)
		}
	})
}

// FuzzAddCheckpoint feeds arbitrary requests to a witness that has cosigned
// size 8: whatever it cosigns must extend that state.
func FuzzAddCheckpoint(f *testing.F) {
	fx := newFixture(f)
	f.Add(uint64(8), fx.cp(f, 12), bytes.Join(fx.proof(f, 8, 12), nil))
	f.Add(uint64(8), fx.cp(f, 8), []byte{})
	f.Fuzz(func(t *testing.T, old uint64, raw, proofBytes []byte) {
		w := fx.witness(t, &MemoryStore{})
		if err := fx.add(t, w, 0, 8); err != nil {
			t.Fatal(err)
		}
		var p [][]byte
		for len(proofBytes) >= 32 {
			p = append(p, proofBytes[:32])
			proofBytes = proofBytes[32:]
		}
		sig, err := w.AddCheckpoint(old, p, raw)
		if err != nil {
			return
		}
		st := w.State()
		if st.Size < 8 || len(sig) == 0 {
			t.Fatalf("cosigned size %d after 8", st.Size)
		}
		if st.Size == 8 && !bytes.Equal(st.Root, fx.tree.HashAt(8)) {
			t.Fatal("cosigned a fork at size 8")
		}
	})
}
