package coordinator

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCheckOutMap(t *testing.T) {
	cases := []struct {
		name    string
		m       []uint32
		outputs int
		ok      bool
	}{
		{"dense", []uint32{0, 1, 0, 2}, 4, true},
		{"all shared", []uint32{0, 0, 0}, 3, true},
		{"wrong length", []uint32{0, 1}, 3, false},
		{"huge index", []uint32{0, 1 << 31}, 2, false},
		{"gap", []uint32{0, 2, 2}, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkOutMap(tc.m, tc.outputs); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFirstCauseSkipsCancellationEchoes(t *testing.T) {
	echo := &PartyError{Party: "telecom", Err: status.Error(codes.Canceled, "context canceled")}
	cause := &PartyError{Party: "utility", Err: status.Error(codes.Unavailable, "connection reset")}
	if got := firstCause(echo, nil, cause); got != cause {
		t.Fatalf("got %v, want the utility failure", got)
	}
	if got := firstCause(echo, context.Canceled); got != echo {
		t.Fatalf("only echoes: got %v, want the first", got)
	}
	if got := firstCause(nil, nil); got != nil {
		t.Fatalf("no errors: got %v", got)
	}
	var pe *PartyError
	if !errors.As(firstCause(cause), &pe) || pe.Party != "utility" || !errors.Is(cause, ErrParty) {
		t.Fatal("a party error must name the party and match ErrParty")
	}
}
