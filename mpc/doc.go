// Package mpc is the cryptographic core of the query service: parameter
// sets, the key ceremony as step functions over lattigo's mhe protocols,
// the query circuit (encoding columns into slot blocks, the party chain of
// ciphertext-by-plaintext products, the coordinator's packing of every
// total into one ciphertext in pack.go, the first party's pool of
// precomputed encryptions of zero in encpool.go), PCKS decryption shares with noise
// flooding, and the one safe decoder for every ciphertext, share or key
// that arrives from the network.
//
// It does no I/O: no sockets, no files, no logging. Callers move bytes.
//
// # Wire format of untrusted values
//
// Network values are never handed to lattigo's UnmarshalBinary or ReadFrom,
// which crash the process on hostile input (stack overflow, multi-GiB
// allocations) and whose ciphertext metadata is variable-length JSON. A
// value on the wire is only its coefficients, little-endian uint64, in a
// fixed order; its shape (ring degree, level, number of polynomials) and its
// metadata (NTT form, scale) are implied by the protocol step and supplied
// by the receiver. The decoder checks the exact length, then that every
// coefficient is below its modulus, and only then copies into a freshly
// allocated lattigo object, under recover as a last line of defence.
package mpc
