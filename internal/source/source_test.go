package source

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

var testTable = schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 100}}}

func load(t *testing.T, csv string) *table.Data {
	t.Helper()
	d, err := table.Load(strings.NewReader(csv), testTable)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMemoryReplace: after a reload, a read over the current keys sees
// the new rows; a read over the previous snapshot (a query on the epoch
// before) sees each of its keys' current values, and false and 0 for a
// key the table no longer holds.
func TestMemoryReplace(t *testing.T) {
	ctx := context.Background()
	m := FromData(load(t, "person_id,balance\na,10\nb,20\nc,30\n"))
	old, _ := m.Keys(ctx)
	if err := m.Replace(load(t, "person_id,balance\nc,31\nd,40\na,11\n")); err != nil {
		t.Fatal(err)
	}
	cur, _ := m.Keys(ctx)
	if cur == old || !slices.Equal(cur.IDs, []string{"c", "d", "a"}) {
		t.Fatalf("keys after the reload: %v", cur.IDs)
	}
	gt := plan.Cmp{Table: "bank", Left: plan.ACol{Column: "balance"}, Right: plan.AConst{V: 5}, Op: plan.OpGt}
	req := Request{Locals: []plan.Expr{gt}, Columns: []string{"balance"}}
	r, err := m.Read(ctx, cur, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Cols["balance"], []int64{31, 40, 11}) || !slices.Equal(r.Masks[0], []bool{true, true, true}) {
		t.Fatalf("current read %v %v", r.Cols, r.Masks)
	}
	r, err = m.Read(ctx, old, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Cols["balance"], []int64{11, 0, 31}) || !slices.Equal(r.Masks[0], []bool{true, false, true}) {
		t.Fatalf("read over the previous snapshot %v %v", r.Cols, r.Masks)
	}
	other := testTable
	other.Name = "telecom"
	d := load(t, "person_id,balance\na,1\n")
	d.Table = other
	if err := m.Replace(d); err == nil {
		t.Fatal("a reload with another schema was accepted")
	}
}
