// Command mpcq is the police analyst's client: it sends SQL joint queries
// to the coordinator and decrypts the aggregate results, which only the
// analyst's own key (in the profile) can read.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/analyst"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

const usage = `Usage: mpcq --profile DIR COMMAND [flags] [args]

Commands:
  query "SQL"   run a joint query; prints a table (or --json)
                flags: --purpose TEXT --legal-basis TEXT (warrant or case
                reference; defaults from the profile), --json, --quiet,
                --timeout DURATION
  status        exit 0 when the coordinator and every party are up and ready
  schema        list the consortium's tables, columns, types and bounds
  keygen        make a new RLWE key pair in the profile

SQL (this version):
  SELECT COUNT(*), SUM(table.column) ...
  FROM t1 [JOIN t2 USING (person_id) [JOIN t3 USING (person_id)]]
  [WHERE t.col OP integer AND t.cat = 'value' ...]   OP: = != < <= > >=

Example:
  mpcq --profile demo/analyst query "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20"
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mpcq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profileDir := fs.String("profile", os.Getenv("MPCQ_PROFILE"), "analyst profile directory (or $MPCQ_PROFILE)")
	fs.Usage = func() { fmt.Fprint(stderr, usage, "\nGlobal flags:\n"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || *profileDir == "" {
		fs.Usage()
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var err error
	switch cmd {
	case "query":
		err = cmdQuery(*profileDir, rest, stdout, stderr)
	case "status":
		err = cmdStatus(*profileDir, rest, stdout)
	case "schema":
		err = cmdSchema(*profileDir, rest, stdout)
	case "keygen":
		err = cmdKeygen(*profileDir)
	default:
		fmt.Fprintf(stderr, "mpcq: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "mpcq:", err)
			return 2
		}
		if st, ok := status.FromError(err); ok {
			fmt.Fprintf(stderr, "mpcq: %s: %s\n", st.Code(), st.Message())
		} else {
			fmt.Fprintln(stderr, "mpcq:", err)
		}
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func cmdQuery(dir string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, `print {"query_id":..., "columns":[...], "rows":[[...]]}`)
	purpose := fs.String("purpose", "", "why the query is asked (recorded, salted and hashed, on the ledger)")
	basis := fs.String("legal-basis", "", "warrant or case reference")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{"bad query flags"}
	}
	if fs.NArg() != 1 {
		return usageError{`query takes exactly one SQL argument, in quotes: mpcq --profile DIR query "SELECT ..."`}
	}
	p, err := analyst.Load(dir)
	if err != nil {
		return err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	progress := func(pr *pb.Progress) {
		if !*quiet {
			fmt.Fprintf(stderr, "[%5.1fs] %s: %s\n", time.Since(start).Seconds(), pr.Stage, pr.Detail)
		}
	}
	res, err := p.Query(ctx, client, analyst.Request{SQL: fs.Arg(0), Purpose: *purpose, LegalBasis: *basis}, progress)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "[%5.1fs] done: query %s\n", time.Since(start).Seconds(), res.QueryID)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t")+"\t")
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = fmt.Sprint(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

func cmdStatus(dir string, args []string, stdout io.Writer) error {
	p, err := analyst.Load(dir)
	if err != nil {
		return err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := client.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("coordinator %s: %w", p.Config.Coordinator, err)
	}
	fmt.Fprintf(stdout, "coordinator %s: phase %s, parameter set %s, ceremony %s, epoch %s, %d entities\n",
		p.Config.Coordinator, st.Phase, st.ParamSet, orNone(st.CeremonyId), orNone(st.EpochId), st.Entities)
	for _, ps := range st.Parties {
		state := "up"
		if !ps.Up {
			state = "DOWN: " + ps.Error
		} else if !ps.Ready {
			state = "up, not ready"
		}
		fmt.Fprintf(stdout, "  party %-10s table %-10s rows %-9d %s\n", ps.Name, ps.Table, ps.Rows, state)
	}
	if st.Error != "" {
		fmt.Fprintf(stdout, "  last error: %s\n", st.Error)
	}
	if !st.Ready {
		return fmt.Errorf("not ready (phase %s)", st.Phase)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func cmdSchema(dir string, args []string, stdout io.Writer) error {
	p, err := analyst.Load(dir)
	if err != nil {
		return err
	}
	conn, client, err := p.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TABLE\tCOLUMN\tTYPE\tBOUNDS\n")
	for _, t := range r.Tables {
		fmt.Fprintf(tw, "%s\t%s\tperson key\t\n", t.Name, t.Key)
		for _, c := range t.Columns {
			b := fmt.Sprintf("%d..%d", c.Min, c.Max)
			if c.Kind == "category" {
				b = strings.Join(c.Categories, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, c.Name, c.Kind, b)
		}
	}
	fmt.Fprintf(tw, "\nparameter set %s; totals must stay below %d; %d aligned entities\n", r.ParamSet, r.PlaintextModulus, r.Entities)
	return tw.Flush()
}

func cmdKeygen(dir string) error {
	p, err := analyst.Load(dir)
	if err != nil && !errors.Is(err, analyst.ErrProfile) {
		return err
	}
	name := mpc.DefaultSetName
	if p != nil {
		name = p.Config.ParamSet
	}
	params, err := mpc.NewParams(name)
	if err != nil {
		return err
	}
	return analyst.GenerateKeys(dir, params)
}
