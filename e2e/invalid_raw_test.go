package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// goldenCase is one query of plan/testdata/invalid.golden and the message
// Parse gives for it.
type goldenCase struct{ name, sql, msg string }

// readInvalidGolden parses the golden file's format: "== name", the query
// text (possibly several lines; a NUL is written \x00), "-> message".
func readInvalidGolden(t *testing.T) []goldenCase {
	t.Helper()
	data, err := os.ReadFile("../plan/testdata/invalid.golden")
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenCase
	var cur *goldenCase
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			cur, lines = &goldenCase{name: strings.TrimPrefix(line, "== ")}, nil
		case cur != nil && strings.HasPrefix(line, "-> "):
			cur.sql = strings.ReplaceAll(strings.Join(lines, "\n"), `\x00`, "\x00")
			cur.msg = strings.TrimPrefix(line, "-> ")
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			lines = append(lines, line)
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d cases in the golden file", len(out))
	}
	return out
}

// schemaDependent lists the golden cases whose message depends on how
// plan's test consortium differs from the tables the demo cluster serves:
// bank has more columns there, utility has no tariff, and the parties'
// order (bank first) picks the tables of an example FROM clause. The
// coordinator must give them the message Parse gives against the schema
// it serves.
var schemaDependent = map[string]bool{
	"unknown_column_other_table": true, // lists bank's columns
	"unknown_column_list":        true, // lists bank's columns
	"group_by_too_many_groups":   true, // utility.tariff
	"two_category_columns":       true, // utility.tariff
	"missing_from":               true, // example FROM in table order
	"explain_missing_from":       true, // example FROM in table order
	"comma_join":                 true, // example FROM in table order
}

// servedSchema is the consortium schema the coordinator plans against.
func servedSchema(ctx context.Context, t *testing.T, client pb.CoordinatorClient) schema.Consortium {
	t.Helper()
	r, err := client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var cs schema.Consortium
	for _, tp := range r.Tables {
		tb, err := wire.TableFromProto(tp)
		if err != nil {
			t.Fatal(err)
		}
		cs.Tables = append(cs.Tables, tb)
	}
	return cs
}

// TestInvalidQueriesRaw sends every query of plan's invalid-query golden
// file straight to the coordinator's Query RPC, without mpcq's local
// parse, and checks that each is refused as InvalidArgument with the
// planner's message, position included.
func TestInvalidQueriesRaw(t *testing.T) {
	cases := readInvalidGolden(t)
	l, _ := startCluster(t, 500)
	prof, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	served := servedSchema(ctx, t, client)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.msg
			if schemaDependent[c.name] {
				_, perr := plan.Parse(c.sql, served)
				if perr == nil {
					t.Fatalf("Parse accepts %q against the served tables", c.sql)
				}
				want = perr.Error()
			}
			stream, err := client.Query(ctx, &pb.QueryRequest{Sql: c.sql, Purpose: "test", LegalBasis: "TEST-RAW", AnalystPublicKey: apk})
			if err == nil {
				_, err = stream.Recv()
			}
			if !utf8.ValidString(c.sql) {
				// A proto3 string must be UTF-8: the client's gRPC
				// library refuses to send it, so it never reaches the
				// coordinator (mpcq's local parse reports it first).
				if err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
					t.Fatalf("a query that is not UTF-8: got %v, want the client to refuse to marshal it", err)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), want) {
				t.Fatalf("got %v, want InvalidArgument with %q", err, want)
			}
		})
	}
	// The consortium still answers a valid query afterwards.
	if _, err := prof.Query(ctx, client, analyst.Request{SQL: "SELECT COUNT(*) FROM bank"}, nil); err != nil {
		t.Fatalf("valid query after the invalid ones: %v", err)
	}
}
