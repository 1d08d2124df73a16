package mpc

import (
	"runtime"
	"syscall"
)

// fillerPriority is the nice value of a filler's thread: the lowest, so
// that on a shared machine the kernel runs any other work first (another
// process's query step, this process's other threads).
const fillerPriority = 19

// lowerPriority pins the calling goroutine to its OS thread and lowers
// that thread's scheduling priority (Linux applies setpriority to one
// thread when given its id). The goroutine never unlocks the thread: when
// it returns, the runtime ends the thread rather than hand a low-priority
// thread to other goroutines. It reports whether the priority was lowered.
func lowerPriority() bool {
	runtime.LockOSThread()
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), fillerPriority) == nil
}
