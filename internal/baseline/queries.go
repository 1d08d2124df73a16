package baseline

// Query is one of the benchmark's queries: the SQL text the analyst sends
// to the encrypted system and DuckDB runs as it is.
type Query struct {
	Name   string // spine, group, or
	SQL    string
	Groups int // GROUP BY columns at the start of each row
}

// Queries are the benchmark's queries: the spine (three parties, one
// predicate each, COUNT and SUM), the same grouped by the utility's ten
// districts, and an OR across two institutions.
func Queries() []Query {
	const where = `WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000`
	const from = `FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) `
	return []Query{
		{Name: "spine", SQL: `SELECT COUNT(*), SUM(bank.cash_deposits_30d) ` + from + where},
		{Name: "group", SQL: `SELECT utility.district, COUNT(*), SUM(bank.cash_deposits_30d) ` + from + where + ` GROUP BY utility.district`, Groups: 1},
		{Name: "or", SQL: `SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20 OR bank.transfers_abroad_30d > 5`},
	}
}
