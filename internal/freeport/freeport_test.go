package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrDistinctAndBelowEphemeral(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		a, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, p, _ := net.SplitHostPort(a)
		port, _ := strconv.Atoi(p)
		if port < lowest || port > highest {
			t.Fatalf("port %d outside %d-%d", port, lowest, highest)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("the address handed out cannot be bound: %v", err)
		}
		l.Close()
	}
}
