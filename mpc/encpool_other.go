//go:build !linux

package mpc

// lowerPriority is a no-op off Linux: the filler runs at normal priority
// (it still pauses while a query step runs).
func lowerPriority() bool { return false }
