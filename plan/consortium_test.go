package plan

import (
	"fmt"

	"github.com/mpcq/mpcq/schema"
)

// testConsortium is a small consortium: a telecom, a bank and a utility,
// each keyed by person_id with a district category (10 values); the
// utility also has a tariff category (12 values).
func testConsortium() schema.Consortium {
	districts := make([]string, 10)
	for i := range districts {
		districts[i] = fmt.Sprintf("D%02d", i+1)
	}
	district := schema.Column{Name: "district", Kind: schema.KindCategory, Categories: districts}
	tariffs := make([]string, 12)
	for i := range tariffs {
		tariffs[i] = fmt.Sprintf("T%02d", i+1)
	}
	tariff := schema.Column{Name: "tariff", Kind: schema.KindCategory, Categories: tariffs}
	intCol := func(name string, max int64) schema.Column {
		return schema.Column{Name: name, Kind: schema.KindInt, Min: 0, Max: max}
	}
	return schema.Consortium{Tables: []schema.Table{
		{Name: "telecom", Key: "person_id", Columns: []schema.Column{district, intCol("calls_30d", 5000), intCol("flagged_calls_30d", 500)}},
		{Name: "bank", Key: "person_id", Columns: []schema.Column{district, intCol("balance", 20_000_000), intCol("cash_deposits_30d", 5_000_000)}},
		{Name: "utility", Key: "person_id", Columns: []schema.Column{district, intCol("kwh_30d", 100_000), intCol("kwh_avg_12m", 50_000), intCol("meter_tamper", 1), tariff}},
	}}
}
