package gen

import (
	"fmt"

	"github.com/mpcq/mpcq/schema"
)

// Table names of the synthetic consortium.
const (
	Telecom = "telecom"
	Bank    = "bank"
	Utility = "utility"
)

// KeyColumn is the person key column of every synthetic table.
const KeyColumn = "person_id"

// Districts returns the district codes, D01..D10, shared by all tables.
func Districts() []string {
	out := make([]string, numDistricts)
	for i := range out {
		out[i] = fmt.Sprintf("D%02d", i+1)
	}
	return out
}

const numDistricts = 10

// Schemas returns the three synthetic tables: telecom, bank and utility,
// in that order. Amounts are whole yuan; every int column's Max is the
// declared maximum that generated values never exceed.
func Schemas() []schema.Table {
	district := func() schema.Column {
		return schema.Column{Name: "district", Kind: schema.KindCategory, Categories: Districts()}
	}
	num := func(name string, max int64) schema.Column {
		return schema.Column{Name: name, Kind: schema.KindInt, Min: 0, Max: max}
	}
	return []schema.Table{
		{Name: Telecom, Key: KeyColumn, Columns: []schema.Column{
			district(),
			num("phone_lines", 10),
			num("calls_30d", 5000),
			num("flagged_calls_30d", 500),
			num("intl_minutes_30d", 20000),
		}},
		{Name: Bank, Key: KeyColumn, Columns: []schema.Column{
			district(),
			num("accounts", 20),
			num("balance", 20_000_000),
			num("cash_deposits_30d", 5_000_000),
			num("transfers_abroad_30d", 200),
		}},
		{Name: Utility, Key: KeyColumn, Columns: []schema.Column{
			district(),
			num("kwh_30d", 100_000),
			num("kwh_avg_12m", 50_000),
			num("meter_tamper", 1),
		}},
	}
}

// Consortium returns Schemas as a consortium.
func Consortium() schema.Consortium {
	return schema.Consortium{Tables: Schemas()}
}
