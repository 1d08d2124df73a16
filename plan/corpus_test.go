package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// corpusQuery is one query of testdata/corpus.sql.
type corpusQuery struct {
	name, sql string
}

// readCorpus parses testdata/corpus.sql (format in its header).
func readCorpus(t *testing.T) []corpusQuery {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusQuery
	for _, block := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		name, ok := strings.CutPrefix(lines[0], "-- name: ")
		if !ok {
			continue
		}
		out = append(out, corpusQuery{name: name, sql: strings.Join(lines[1:], "\n")})
	}
	return out
}

// TestCorpusParses checks that every corpus query parses, that its
// canonical text parses to the same plan, and that the corpus covers
// every construct of the dialect.
func TestCorpusParses(t *testing.T) {
	cs := gen.Consortium()
	queries := readCorpus(t)
	if len(queries) < 40 {
		t.Fatalf("corpus has %d queries, want at least 40", len(queries))
	}
	covered := map[string]bool{}
	names := map[string]bool{}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			if names[q.name] {
				t.Fatalf("duplicate name")
			}
			names[q.name] = true
			p, err := Parse(q.sql, cs)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			again, err := Parse(p.Canonical, cs)
			if err != nil {
				t.Fatalf("Parse(%q): %v", p.Canonical, err)
			}
			if !reflect.DeepEqual(again, p) {
				t.Errorf("Parse(Canonical) differs:\n  %+v\nwant\n  %+v", again, p)
			}
			if len(p.Terms) == 0 || len(p.Terms) > MaxTerms {
				t.Errorf("%d terms", len(p.Terms))
			}
			checkLocals(t, p, cs)
			for _, f := range coverage(p) {
				covered[f] = true
			}
		})
	}
	for _, f := range []string{"explain", "group by 1", "group by 2", "left join", "absent", "present", "any",
		"COUNT", "SUM", "AVG", "VARIANCE", "STDDEV", "several terms", "negative term", "repeated term", "and", "or", "not",
		"in", "not in", "column arithmetic", "column vs column", "least"} {
		if !covered[f] {
			t.Errorf("no corpus query covers %q", f)
		}
	}
}

// checkLocals checks that every local of a plan is accepted by its
// table's party and is normalized (normalizing it again changes nothing).
func checkLocals(t testing.TB, p *Plan, cs schema.Consortium) {
	t.Helper()
	for _, term := range p.Terms {
		for _, l := range term.Locals {
			tb, _ := cs.Table(l.Table)
			if err := CheckLocal(l, tb); err != nil {
				t.Fatalf("CheckLocal(%+v): %v", l, err)
			}
			if again := bare(normalize(l.Expr, cs)); !reflect.DeepEqual(again, l.Expr) {
				t.Fatalf("local %+v is not normalized: %+v", l.Expr, again)
			}
		}
	}
}

// coverage lists the features a plan uses.
func coverage(p *Plan) []string {
	var out []string
	add := func(f string) { out = append(out, f) }
	if p.Explain {
		add("explain")
	}
	if len(p.GroupBy) > 0 {
		add(fmt.Sprintf("group by %d", len(p.GroupBy)))
	}
	for _, j := range p.Joins {
		if j == JoinLeft {
			add("left join")
		}
	}
	for _, a := range p.Aggregates {
		add(string(a.Kind))
		if a.Clip > 0 {
			add("least")
		}
	}
	if len(p.Terms) > 1 {
		add("several terms")
	}
	var walk func(Expr)
	arith := func(a Arith) {
		if _, ok := a.(ABin); ok {
			add("column arithmetic")
		}
	}
	walk = func(e Expr) {
		switch e := e.(type) {
		case And:
			add("and")
			for _, x := range e.Terms {
				walk(x)
			}
		case Or:
			add("or")
			for _, x := range e.Terms {
				walk(x)
			}
		case Not:
			add("not")
			walk(e.Term)
		case Cmp:
			arith(e.Left)
			arith(e.Right)
			if _, ok := e.Right.(ACol); ok {
				add("column vs column")
			}
		case In:
			arith(e.Arg)
			if e.Negated {
				add("not in")
			} else {
				add("in")
			}
		}
	}
	seen := map[string]bool{}
	for _, term := range p.Terms {
		if term.Sign < 0 {
			add("negative term")
		}
		if k := fmt.Sprint(term); seen[k] {
			add("repeated term")
		} else {
			seen[k] = true
		}
		for _, l := range term.Locals {
			add(map[Presence]string{PresenceRequired: "present", PresenceAbsent: "absent", PresenceAny: "any"}[l.Presence])
			walk(l.Expr)
		}
	}
	return out
}

// dataset is random rows: rows[table][person] is a row (absent when the
// table does not hold the person); category values are indexes.
type dataset struct {
	people int
	rows   map[string]map[int]map[string]int64
}

var intLiteral = regexp.MustCompile(`-?\b\d+\b`)

// randomData draws rows for every table, each person present with
// probability 0.7, values drawn near the query's constants (to hit the
// boundaries of its comparisons) or anywhere in the declared bounds.
func randomData(rng *rand.Rand, cs schema.Consortium, sql string, people int) dataset {
	var consts []int64
	for _, m := range intLiteral.FindAllString(sql, -1) {
		if v, err := strconv.ParseInt(m, 10, 64); err == nil {
			consts = append(consts, v-1, v, v+1, v*3, v*3+1)
		}
	}
	d := dataset{people: people, rows: map[string]map[int]map[string]int64{}}
	for _, tb := range cs.Tables {
		d.rows[tb.Name] = map[int]map[string]int64{}
		for p := range people {
			if rng.Float64() >= 0.7 {
				continue
			}
			row := map[string]int64{}
			for _, c := range tb.Columns {
				if c.Kind == schema.KindCategory {
					row[c.Name] = int64(rng.IntN(len(c.Categories)))
					continue
				}
				v := c.Min + rng.Int64N(c.Max-c.Min+1)
				switch rng.IntN(4) {
				case 0:
					v = []int64{c.Min, c.Min + 1, c.Max}[rng.IntN(3)]
				case 1, 2:
					if len(consts) > 0 {
						v = consts[rng.IntN(len(consts))]
					}
				}
				row[c.Name] = min(max(v, c.Min), c.Max)
			}
			d.rows[tb.Name][p] = row
		}
	}
	return d
}

// sqlOracle evaluates a query's parse tree with SQL semantics (NULLs and
// three-valued logic), independently of the planner.
type sqlOracle struct {
	cs    schema.Consortium
	refs  map[string]string // FROM name (alias or table) -> table
	inner map[string]bool   // table -> inner-joined
	sel   *pg.SelectStmt
	d     dataset
}

func newOracle(t *testing.T, sql string, cs schema.Consortium, d dataset) *sqlOracle {
	t.Helper()
	tree, err := pg.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	stmt := tree.GetStmts()[0].GetStmt()
	if ex := stmt.GetExplainStmt(); ex != nil {
		stmt = ex.GetQuery()
	}
	o := &sqlOracle{cs: cs, refs: map[string]string{}, inner: map[string]bool{}, sel: stmt.GetSelectStmt(), d: d}
	var walk func(n *pg.Node, left bool)
	walk = func(n *pg.Node, left bool) {
		if rv := n.GetRangeVar(); rv != nil {
			ref := rv.GetRelname()
			if a := rv.GetAlias(); a != nil {
				ref = a.GetAliasname()
			}
			o.refs[ref] = rv.GetRelname()
			o.inner[rv.GetRelname()] = !left
			return
		}
		j := n.GetJoinExpr()
		walk(j.GetLarg(), left)
		walk(j.GetRarg(), left || j.GetJointype() == pg.JoinType_JOIN_LEFT)
	}
	walk(o.sel.GetFromClause()[0], false)
	return o
}

type sqlVal struct {
	null bool
	i    int64
	s    string
	str  bool
}

type tri int

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// inResult reports whether the person is a row of the FROM clause.
func (o *sqlOracle) inResult(p int) bool {
	for table, in := range o.inner {
		if _, ok := o.d.rows[table][p]; in && !ok {
			return false
		}
	}
	return true
}

// where reports whether the person is a row of the result and WHERE is
// true for it.
func (o *sqlOracle) where(t *testing.T, p int) bool {
	if !o.inResult(p) {
		return false
	}
	w := o.sel.GetWhereClause()
	return w == nil || o.boolean(t, w, p) == triTrue
}

func (o *sqlOracle) column(t *testing.T, ref *pg.ColumnRef, p int) sqlVal {
	f := ref.GetFields()
	table := o.refs[f[0].GetString_().GetSval()]
	col := f[1].GetString_().GetSval()
	tb, _ := o.cs.Table(table)
	row, ok := o.d.rows[table][p]
	switch {
	case !ok:
		return sqlVal{null: true}
	case col == tb.Key:
		return sqlVal{i: int64(p)}
	}
	c, ok := tb.Column(col)
	if !ok {
		t.Fatalf("oracle: no column %s.%s", table, col)
	}
	if c.Kind == schema.KindCategory {
		return sqlVal{str: true, s: c.Categories[row[col]]}
	}
	return sqlVal{i: row[col]}
}

func (o *sqlOracle) value(t *testing.T, n *pg.Node, p int) sqlVal {
	switch {
	case n.GetColumnRef() != nil:
		return o.column(t, n.GetColumnRef(), p)
	case n.GetAConst() != nil:
		c := n.GetAConst()
		switch {
		case c.GetIval() != nil:
			return sqlVal{i: int64(c.GetIval().GetIval())}
		case c.GetFval() != nil:
			v, err := strconv.ParseInt(c.GetFval().GetFval(), 10, 64)
			if err != nil {
				t.Fatalf("oracle: constant %s", c.GetFval().GetFval())
			}
			return sqlVal{i: v}
		case c.GetSval() != nil:
			return sqlVal{str: true, s: c.GetSval().GetSval()}
		}
		return sqlVal{null: true}
	case n.GetAExpr() != nil:
		ae := n.GetAExpr()
		op := ae.GetName()[0].GetString_().GetSval()
		l := sqlVal{}
		if ae.GetLexpr() != nil {
			l = o.value(t, ae.GetLexpr(), p)
		}
		r := o.value(t, ae.GetRexpr(), p)
		if l.null || r.null {
			return sqlVal{null: true}
		}
		switch op {
		case "+":
			return sqlVal{i: l.i + r.i}
		case "-":
			return sqlVal{i: l.i - r.i}
		case "*":
			return sqlVal{i: l.i * r.i}
		}
	}
	if mm := n.GetMinMaxExpr(); mm != nil && mm.GetOp() == pg.MinMaxOp_IS_LEAST {
		// LEAST ignores NULLs in PostgreSQL; NULL only if all are.
		out := sqlVal{null: true}
		for _, a := range mm.GetArgs() {
			v := o.value(t, a, p)
			if !v.null && (out.null || v.i < out.i) {
				out = v
			}
		}
		return out
	}
	t.Fatalf("oracle: cannot evaluate %v", n)
	return sqlVal{}
}

func compare(op string, l, r sqlVal) tri {
	if l.null || r.null {
		return triUnknown
	}
	c := 0
	if l.str {
		c = strings.Compare(l.s, r.s)
	} else if l.i < r.i {
		c = -1
	} else if l.i > r.i {
		c = 1
	}
	ok := map[string]bool{"=": c == 0, "<>": c != 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
	if ok {
		return triTrue
	}
	return triFalse
}

func not3(v tri) tri {
	switch v {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

func (o *sqlOracle) boolean(t *testing.T, n *pg.Node, p int) tri {
	switch {
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		var vals []tri
		for _, a := range be.GetArgs() {
			vals = append(vals, o.boolean(t, a, p))
		}
		switch be.GetBoolop() {
		case pg.BoolExprType_NOT_EXPR:
			return not3(vals[0])
		case pg.BoolExprType_AND_EXPR:
			out := triTrue
			for _, v := range vals {
				if v == triFalse {
					return triFalse
				}
				if v == triUnknown {
					out = triUnknown
				}
			}
			return out
		default:
			out := triFalse
			for _, v := range vals {
				if v == triTrue {
					return triTrue
				}
				if v == triUnknown {
					out = triUnknown
				}
			}
			return out
		}
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		isNull := o.value(t, nt.GetArg(), p).null
		if (nt.GetNulltesttype() == pg.NullTestType_IS_NULL) == isNull {
			return triTrue
		}
		return triFalse
	case n.GetAExpr() != nil:
		ae := n.GetAExpr()
		op := ae.GetName()[0].GetString_().GetSval()
		x := o.value(t, ae.GetLexpr(), p)
		switch ae.GetKind() {
		case pg.A_Expr_Kind_AEXPR_OP:
			return compare(op, x, o.value(t, ae.GetRexpr(), p))
		case pg.A_Expr_Kind_AEXPR_IN:
			out := triFalse
			for _, it := range ae.GetRexpr().GetList().GetItems() {
				switch compare("=", x, o.value(t, it, p)) {
				case triTrue:
					out = triTrue
				case triUnknown:
					if out == triFalse {
						out = triUnknown
					}
				}
			}
			if op == "<>" {
				return not3(out)
			}
			return out
		default:
			items := ae.GetRexpr().GetList().GetItems()
			lo, hi := o.value(t, items[0], p), o.value(t, items[1], p)
			between := func(lo, hi sqlVal) tri {
				a, b := compare(">=", x, lo), compare("<=", x, hi)
				switch {
				case a == triFalse || b == triFalse:
					return triFalse
				case a == triUnknown || b == triUnknown:
					return triUnknown
				}
				return triTrue
			}
			v := between(lo, hi)
			kind := ae.GetKind()
			if kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
				if w := between(hi, lo); w == triTrue || (w == triUnknown && v == triFalse) {
					v = w
				}
			}
			if kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
				return not3(v)
			}
			return v
		}
	}
	t.Fatalf("oracle: cannot evaluate condition %v", n)
	return triUnknown
}

// groupOf returns the person's GROUP BY values (category names).
func (o *sqlOracle) groupOf(t *testing.T, p int) []string {
	var out []string
	for _, g := range o.sel.GetGroupClause() {
		out = append(out, o.column(t, g.GetColumnRef(), p).s)
	}
	return out
}

// aggregate is one SELECT aggregate's SQL result: exact text for COUNT and
// SUM, a float (or NULL) for the others.
type aggResult struct {
	text  string
	f     float64
	exact bool
	null  bool
}

// results computes every group's aggregates with SQL semantics.
func (o *sqlOracle) results(t *testing.T, groups [][]string) [][]aggResult {
	index := map[string]int{}
	for i, g := range groups {
		index[strings.Join(g, "\x00")] = i
	}
	type acc struct {
		n              int64
		vals           []int64
		sum, sumSquare float64
	}
	var funcs []*pg.FuncCall
	for _, n := range o.sel.GetTargetList() {
		if fc := n.GetResTarget().GetVal().GetFuncCall(); fc != nil {
			funcs = append(funcs, fc)
		}
	}
	accs := make([][]acc, len(groups))
	for i := range accs {
		accs[i] = make([]acc, len(funcs))
	}
	for p := range o.d.people {
		if !o.where(t, p) {
			continue
		}
		gi, ok := index[strings.Join(o.groupOf(t, p), "\x00")]
		if !ok {
			t.Fatalf("oracle: person %d in no group", p)
		}
		for fi, fc := range funcs {
			a := &accs[gi][fi]
			a.n++
			if args := fc.GetArgs(); len(args) == 1 {
				a.vals = append(a.vals, o.value(t, args[0], p).i)
			}
		}
	}
	out := make([][]aggResult, len(groups))
	for gi := range groups {
		for fi, fc := range funcs {
			a := accs[gi][fi]
			name := fc.GetFuncname()[0].GetString_().GetSval()
			var sum int64
			var mean float64
			for _, v := range a.vals {
				sum += v
			}
			if a.n > 0 {
				mean = float64(sum) / float64(a.n)
			}
			var ss float64
			for _, v := range a.vals {
				ss += (float64(v) - mean) * (float64(v) - mean)
			}
			var r aggResult
			switch name {
			case "count":
				r = aggResult{text: strconv.FormatInt(a.n, 10), exact: true}
			case "sum":
				r = aggResult{text: strconv.FormatInt(sum, 10), exact: true}
			case "avg":
				r = aggResult{f: mean, null: a.n == 0}
			case "variance", "var_samp":
				r = aggResult{null: a.n < 2}
				if a.n >= 2 {
					r.f = ss / float64(a.n-1)
				}
			case "stddev", "stddev_samp":
				r = aggResult{null: a.n < 2}
				if a.n >= 2 {
					r.f = math.Sqrt(ss / float64(a.n-1))
				}
			default:
				t.Fatalf("oracle: aggregate %s", name)
			}
			out[gi] = append(out[gi], r)
		}
	}
	return out
}

// termValue computes Σ_k Sign_k × Π_t Local_{k,t} for one person, as the
// circuit does (each party's 0/1 value from its own row only).
func termValue(t *testing.T, p *Plan, d dataset, person int) int {
	total := 0
	for _, term := range p.Terms {
		prod := 1
		for _, l := range term.Locals {
			row, present := d.rows[l.Table][person]
			v := 0
			switch l.Presence {
			case PresenceAny:
				v = 1
			case PresenceAbsent:
				if !present {
					v = 1
				}
			case PresenceRequired:
				if present {
					ok, err := Eval(l.Expr, func(c string) int64 { return row[c] })
					if err != nil {
						t.Fatalf("Eval: %v", err)
					}
					if ok {
						v = 1
					}
				}
			}
			prod *= v
		}
		total += term.Sign * prod
	}
	return total
}

// simulateSums computes every sum of the plan per group as the circuit
// does, in arithmetic mod 2^64 (the signed terms wrap and come back).
func simulateSums(t *testing.T, p *Plan, d dataset) map[Sum][]uint64 {
	groups := p.Groups()
	index := map[string]int{}
	for i, g := range groups {
		index[strings.Join(g, "\x00")] = i
	}
	out := map[Sum][]uint64{}
	for _, s := range p.Sums() {
		out[s] = make([]uint64, len(groups))
	}
	for person := range d.people {
		inUnion := false
		for _, rows := range d.rows {
			_, ok := rows[person]
			inUnion = inUnion || ok
		}
		if !inUnion {
			continue
		}
		var g []string
		member := true
		for _, gc := range p.GroupBy {
			row, ok := d.rows[gc.Table][person]
			if !ok {
				member = false
				break
			}
			g = append(g, gc.Categories[row[gc.Column]])
		}
		for _, term := range p.Terms {
			prod := uint64(1)
			for _, l := range term.Locals {
				row, present := d.rows[l.Table][person]
				ok := true
				switch l.Presence {
				case PresenceAbsent:
					ok = !present
				case PresenceRequired:
					var err error
					ok, err = Eval(l.Expr, func(c string) int64 { return row[c] })
					ok = ok && present
					if err != nil {
						t.Fatal(err)
					}
				}
				if !ok {
					prod = 0
				}
			}
			if prod == 0 {
				continue
			}
			if !member {
				t.Fatalf("person %d matches a term but has no group row", person)
			}
			gi := index[strings.Join(g, "\x00")]
			for s, v := range out {
				x := uint64(1)
				if s.Kind != SumCount {
					x = uint64(d.rows[s.Table][person][s.Column])
					if s.Clip > 0 && x > uint64(s.Clip) {
						x = uint64(s.Clip)
					}
					if s.Kind == SumSquares {
						x *= x
					}
				}
				v[gi] += uint64(int64(term.Sign)) * x
			}
		}
	}
	return out
}

// TestCorpusSumOfProducts checks, on random rows with random presence,
// that for every corpus query and every person the compiled terms
// Σ Sign × Π Local equal the SQL WHERE (with its join semantics) as
// evaluated by an independent SQL-semantics oracle over the parse tree,
// and that Finish on the circuit's per-group sums gives the oracle's
// aggregates.
func TestCorpusSumOfProducts(t *testing.T) {
	cs := gen.Consortium()
	trials, people := 12, 160
	if testing.Short() {
		trials = 3
	}
	for qi, q := range readCorpus(t) {
		t.Run(q.name, func(t *testing.T) {
			p, err := Parse(q.sql, cs)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(qi), 7))
			matched := 0
			for trial := range trials {
				d := randomData(rng, cs, q.sql, people)
				o := newOracle(t, q.sql, cs, d)
				for person := range people {
					want := 0
					if o.where(t, person) {
						want = 1
						matched++
					}
					if got := termValue(t, p, d, person); got != want {
						t.Fatalf("trial %d person %d: Σ Sign Π Local = %d, SQL WHERE = %d\nterms: %+v\nrows: telecom %v bank %v utility %v",
							trial, person, got, want, p.Terms, d.rows["telecom"][person], d.rows["bank"][person], d.rows["utility"][person])
					}
				}
				rows, cols, err := p.Finish(simulateSums(t, p, d))
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				if len(cols) != len(p.GroupBy)+len(p.Aggregates) {
					t.Fatalf("columns %v", cols)
				}
				groups := p.Groups()
				want := o.results(t, groups)
				for gi, row := range rows {
					if !reflect.DeepEqual(row[:len(p.GroupBy)], groups[gi]) {
						t.Fatalf("row %d starts %v, want group %v", gi, row, groups[gi])
					}
					for ai, w := range want[gi] {
						checkResult(t, fmt.Sprintf("trial %d group %v %s", trial, groups[gi], p.Aggregates[ai].Name), row[len(p.GroupBy)+ai], w)
					}
				}
			}
			t.Logf("%d matching rows over %d trials", matched, trials)
		})
	}
}

func checkResult(t *testing.T, what, got string, want aggResult) {
	t.Helper()
	switch {
	case want.exact:
		if got != want.text {
			t.Fatalf("%s = %s, want %s", what, got, want.text)
		}
	case want.null:
		if got != NullText {
			t.Fatalf("%s = %s, want NULL", what, got)
		}
	default:
		f, err := strconv.ParseFloat(got, 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", what, got, err)
		}
		if math.Abs(f-want.f) > 1e-6+1e-9*math.Abs(want.f) {
			t.Fatalf("%s = %s, want %v", what, got, want.f)
		}
	}
}

// TestRandomFormulasSumOfProducts generates random WHERE clauses (AND,
// OR, NOT, nested, over comparisons of three institutions, some repeated
// so that terms merge) and checks the compiled terms against the SQL
// oracle on random rows, like TestCorpusSumOfProducts.
func TestRandomFormulasSumOfProducts(t *testing.T) {
	cs := testConsortium()
	atoms := []string{
		"telecom.calls_30d > 5", "telecom.district = 'D01'", "telecom.flagged_calls_30d * 2 >= telecom.calls_30d",
		"bank.balance > 7", "bank.district IN ('D01', 'D02')", "bank.cash_deposits_30d BETWEEN 3 AND 8",
		"utility.kwh_30d > 3 * utility.kwh_avg_12m", "utility.meter_tamper = 1", "utility.tariff NOT IN ('T01')",
	}
	// With utility LEFT JOINed, only telecom and bank conditions are
	// allowed (and utility.person_id IS NULL is added).
	leftAtoms := append(atoms[:6:6], "telecom.calls_30d < 3", "bank.balance < 3", "telecom.district = 'D02'")
	rng := rand.New(rand.NewPCG(42, 42))
	var formula func(atoms []string, depth int) string
	formula = func(atoms []string, depth int) string {
		if depth == 0 || rng.IntN(3) == 0 {
			return atoms[rng.IntN(len(atoms))]
		}
		switch rng.IntN(3) {
		case 0:
			return "NOT (" + formula(atoms, depth-1) + ")"
		case 1:
			return "(" + formula(atoms, depth-1) + " AND " + formula(atoms, depth-1) + ")"
		}
		return "(" + formula(atoms, depth-1) + " OR " + formula(atoms, depth-1) + ")"
	}
	n, accepted, repeated := 300, 0, 0
	if testing.Short() {
		n = 60
	}
	for i := range n {
		from := "telecom JOIN bank USING (person_id) JOIN utility USING (person_id)"
		where := formula(atoms, 3+i%3)
		if i%3 == 1 {
			from = "telecom JOIN bank USING (person_id) LEFT JOIN utility USING (person_id)"
			where = "(" + formula(leftAtoms, 3) + ") AND utility.person_id IS NULL"
		}
		sql := "SELECT COUNT(*) FROM " + from + " WHERE " + where
		p, err := Parse(sql, cs)
		if err != nil {
			if strings.Contains(err.Error(), "MaxTerms") || strings.Contains(err.Error(), "never be true") {
				continue
			}
			t.Fatalf("Parse(%q): %v", sql, err)
		}
		accepted++
		seen := map[string]bool{}
		for _, term := range p.Terms {
			k := fmt.Sprint(term)
			if seen[k] {
				repeated++
			}
			seen[k] = true
		}
		d := randomData(rng, cs, sql, 60)
		o := newOracle(t, sql, cs, d)
		for person := range d.people {
			want := 0
			if o.where(t, person) {
				want = 1
			}
			if got := termValue(t, p, d, person); got != want {
				t.Fatalf("%s\nperson %d: Σ Sign Π Local = %d, SQL = %d\nterms %+v", sql, person, got, want, p.Terms)
			}
		}
	}
	t.Logf("%d of %d random formulas accepted; %d repeated terms (coefficients beyond ±1)", accepted, n, repeated)
	if accepted < n/3 {
		t.Errorf("only %d of %d random formulas accepted", accepted, n)
	}
}
