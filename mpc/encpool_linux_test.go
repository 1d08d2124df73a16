package mpc

import (
	"runtime"
	"syscall"
	"testing"
)

// TestFillerPriority: the filler's thread runs at nice 19, and only that
// thread (the rest of the process keeps its priority).
func TestFillerPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The kernel's getpriority returns 20 - nice.
	before, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		if !lowerPriority() {
			got <- -1
			return
		}
		p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			p = -2
		}
		got <- p
	}()
	if p := <-got; p != 20-fillerPriority {
		t.Fatalf("filler thread priority %d, want %d (nice %d)", p, 20-fillerPriority, fillerPriority)
	}
	if after, _ := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid()); after != before {
		t.Fatalf("the test's own thread went from %d to %d", before, after)
	}
}
