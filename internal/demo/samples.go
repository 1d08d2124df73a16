package demo

// Sample is a query with its plaintext oracle.
type Sample struct {
	Name   string
	SQL    string
	Tables []string
	Where  func(Joined) bool
	Outs   []func(Joined) int64
	// Demo marks the queries mpcdemo run shows (the tests run them all).
	Demo bool
}

// Expected computes the sample's answer on the pooled plaintext.
func (s Sample) Expected(db *DB) []uint64 { return db.Aggregate(s.Tables, s.Where, s.Outs) }

// Samples are meaningful investigative queries covering the SQL subset:
// two- and three-party joins, single tables, category predicates, no
// match, everyone matching and the largest declared values.
func Samples() []Sample {
	return []Sample{
		{
			Name: "crypto-mining suspects (3 parties)", Demo: true,
			SQL: `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
			      WHERE utility.kwh_30d > 5000 AND bank.cash_deposits_30d > 50000 AND telecom.phone_lines >= 1`,
			Tables: []string{"telecom", "bank", "utility"},
			Where: func(j Joined) bool {
				return j["utility"].Int("kwh_30d") > 5000 && j["bank"].Int("cash_deposits_30d") > 50000 && j["telecom"].Int("phone_lines") >= 1
			},
			Outs: []func(Joined) int64{Count, Sum("bank", "cash_deposits_30d")},
		},
		{
			Name: "telecom-fraud ring (2 parties)", Demo: true,
			SQL:    `SELECT COUNT(*), SUM(bank.transfers_abroad_30d) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20 AND bank.transfers_abroad_30d > 5`,
			Tables: []string{"telecom", "bank"},
			Where: func(j Joined) bool {
				return j["telecom"].Int("flagged_calls_30d") > 20 && j["bank"].Int("transfers_abroad_30d") > 5
			},
			Outs: []func(Joined) int64{Count, Sum("bank", "transfers_abroad_30d")},
		},
		{
			Name: "meter tampering in district D03 among bank customers", Demo: true,
			SQL:    `SELECT COUNT(*) FROM bank JOIN utility USING (person_id) WHERE bank.district = 'D03' AND utility.meter_tamper = 1`,
			Tables: []string{"bank", "utility"},
			Where:  func(j Joined) bool { return j["bank"]["district"] == "D03" && j["utility"].Int("meter_tamper") == 1 },
			Outs:   []func(Joined) int64{Count},
		},
		{
			Name: "no match: more calls than the declared maximum", Demo: true,
			SQL:    `SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 5000`,
			Tables: []string{"telecom", "bank"},
			Where:  func(j Joined) bool { return j["telecom"].Int("calls_30d") > 5000 },
			Outs:   []func(Joined) int64{Count, Sum("bank", "balance")},
		},
		{
			Name: "largest declared values: balances at the 20M maximum, and all balances", Demo: true,
			SQL:    `SELECT COUNT(*), SUM(bank.balance) AS total_balance FROM bank WHERE bank.balance = 20000000`,
			Tables: []string{"bank"},
			Where:  func(j Joined) bool { return j["bank"].Int("balance") == 20000000 },
			Outs:   []func(Joined) int64{Count, Sum("bank", "balance")},
		},
		{
			Name:   "everyone at the telecom",
			SQL:    `SELECT COUNT(*) FROM telecom WHERE telecom.phone_lines >= 0`,
			Tables: []string{"telecom"},
			Where:  func(j Joined) bool { return j["telecom"].Int("phone_lines") >= 0 },
			Outs:   []func(Joined) int64{Count},
		},
		{
			Name:   "all bank balances",
			SQL:    `SELECT SUM(bank.balance), COUNT(*) FROM bank`,
			Tables: []string{"bank"},
			Outs:   []func(Joined) int64{Sum("bank", "balance"), Count},
		},
		{
			Name:   "electricity outside D01",
			SQL:    `SELECT SUM(utility.kwh_30d) FROM utility WHERE utility.district != 'D01'`,
			Tables: []string{"utility"},
			Where:  func(j Joined) bool { return j["utility"]["district"] != "D01" },
			Outs:   []func(Joined) int64{Sum("utility", "kwh_30d")},
		},
		{
			Name: "three sums from three parties",
			SQL: `SELECT COUNT(*), SUM(telecom.intl_minutes_30d), SUM(bank.cash_deposits_30d), SUM(utility.kwh_30d)
			      FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.intl_minutes_30d > 100`,
			Tables: []string{"telecom", "bank", "utility"},
			Where:  func(j Joined) bool { return j["telecom"].Int("intl_minutes_30d") > 100 },
			Outs:   []func(Joined) int64{Count, Sum("telecom", "intl_minutes_30d"), Sum("bank", "cash_deposits_30d"), Sum("utility", "kwh_30d")},
		},
		{
			Name:   "heavy electricity users with a phone in D07",
			SQL:    `SELECT COUNT(*) FROM utility JOIN telecom USING (person_id) WHERE utility.kwh_30d >= 10000 AND telecom.district = 'D07'`,
			Tables: []string{"utility", "telecom"},
			Where:  func(j Joined) bool { return j["utility"].Int("kwh_30d") >= 10000 && j["telecom"]["district"] == "D07" },
			Outs:   []func(Joined) int64{Count},
		},
		{
			Name:   "usual consumption of people with one or two accounts",
			SQL:    `SELECT SUM(utility.kwh_avg_12m), COUNT(*) FROM bank JOIN utility USING (person_id) WHERE bank.accounts <= 2 AND bank.accounts != 0`,
			Tables: []string{"bank", "utility"},
			Where:  func(j Joined) bool { a := j["bank"].Int("accounts"); return a <= 2 && a != 0 },
			Outs:   []func(Joined) int64{Sum("utility", "kwh_avg_12m"), Count},
		},
		{
			Name: "electricity three times the usual and large cash deposits", Demo: true,
			SQL: `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM bank JOIN utility USING (person_id)
			      WHERE utility.kwh_30d > 3 * utility.kwh_avg_12m AND bank.cash_deposits_30d > 50000`,
			Tables: []string{"bank", "utility"},
			Where: func(j Joined) bool {
				return j["utility"].Int("kwh_30d") > 3*j["utility"].Int("kwh_avg_12m") && j["bank"].Int("cash_deposits_30d") > 50000
			},
			Outs: []func(Joined) int64{Count, Sum("bank", "cash_deposits_30d")},
		},
		{
			Name: "flagged calls OR large cash deposits (OR across institutions)", Demo: true,
			SQL:    `SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20 OR bank.cash_deposits_30d > 100000`,
			Tables: []string{"telecom", "bank"},
			Where: func(j Joined) bool {
				return j["telecom"].Int("flagged_calls_30d") > 20 || j["bank"].Int("cash_deposits_30d") > 100000
			},
			Outs: []func(Joined) int64{Count},
		},
		{
			Name:   "everyone at all three institutions",
			SQL:    `SELECT COUNT(*) FROM bank JOIN telecom USING (person_id) JOIN utility USING (person_id)`,
			Tables: []string{"bank", "telecom", "utility"},
			Outs:   []func(Joined) int64{Count},
		},
	}
}
