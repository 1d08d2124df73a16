package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func TestPrintLedgerHealth(t *testing.T) {
	now := time.Unix(1_800_000_100, 0)
	for _, tc := range []struct {
		name    string
		h       *pb.LedgerHealth
		healthy bool
		want    []string
	}{
		{"older coordinator", nil, true, nil},
		{"not open", &pb.LedgerHealth{Error: "ledger not open yet"}, false, []string{"ledger: not open: ledger not open yet"}},
		{"healthy", &pb.LedgerHealth{Open: true, Healthy: true, CheckpointSize: 190, CosignedUnix: 1_800_000_090}, true,
			[]string{"ledger: healthy: checkpoint size 190 cosigned by every party 10s ago"}},
		{"a party refuses", &pb.LedgerHealth{Open: true, CheckpointSize: 186, CosignedUnix: 1_800_000_000, PendingEntries: 2,
			Refusals: []*pb.CosignerRefusal{{Party: "utility", Error: "witness state store failed: no space left on device",
				SinceUnix: 1_800_000_080, Refusals: 7, CheckpointSize: 188, NextRetryUnix: 1_800_000_106}}}, false,
			[]string{"ledger: NOT HEALTHY", "2 entries waiting", "party utility refuses to cosign (size 188, 7 refusals", "next retry in 6s", "no space left on device"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := printLedgerHealth(&out, tc.h, now); got != tc.healthy {
				t.Fatalf("healthy = %v, want %v\n%s", got, tc.healthy, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
