// Package freeport hands out loopback TCP addresses for daemons that a
// test or the demo starts: ports below Linux's ephemeral range (32768 and
// up), so that the outgoing connections the kernel numbers from that range
// cannot take a port between the moment it is chosen and the moment the
// daemon binds it, and never the same port twice in one process.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// The range handed out: above the well-known and common service ports,
// below the ephemeral range.
const (
	lowest  = 20000
	highest = 32767
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// ErrExhausted is returned when no port of the range is free.
var ErrExhausted = errors.New("freeport: no free loopback port left in 20000-32767")

// Addr returns "127.0.0.1:PORT" for a port that was free when it was
// probed and that this process has not handed out before.
func Addr() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	n := highest - lowest + 1
	start := rand.IntN(n)
	for i := range n {
		port := lowest + (start+i)%n
		if handed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		handed[port] = true
		return l.Addr().String(), nil
	}
	return "", ErrExhausted
}
