// Package align implements the private record alignment ("the private join")
// of DESIGN.md: parties line up the same person in the same slot without
// revealing person identifiers to each other or to the coordinator.
//
// Per epoch each party draws a fresh secret X25519 scalar (NewKey), hashes
// every person id to a point of Curve25519 (RFC 9496's ristretto255
// hash-to-group, taken to Montgomery form; HashID) and blinds it with its
// key (BlindIDs): elements are 32-byte u-coordinates. The list then travels
// through every other party, each of which applies X25519 with its own key
// to every element and keeps the order (Blind). Because clamped scalars
// multiply, every party ends up holding the pseudonym
// u(k_N·…·k_1·H(id)) of each of its own records, in its own order;
// computing a pseudonym offline requires all N keys.
//
// Every list carries a provenance (Provenance, Sign, Verify, Complete): the
// origin signs the list it blinded first, and every party that blinds the list
// appends a signature over its output that also binds the previous signature.
// A party blinds only a list whose provenance verifies, whose origin announced its
// size, and in which it has not signed yet, so a malicious coordinator cannot
// inject guessed identifiers and test who is whose customer.
//
// Finally the coordinator merges the pseudonym sets (Ranks): the rank of a
// pseudonym in the sorted union is the slot at which every party places that
// person.
//
// The package is pure computation: it does no I/O, opens no files or sockets
// and does not log. It is not the transport (package party and coordinator
// move lists over gRPC), it keeps no per-epoch state (the caller must remember
// which origins it has already blinded in an epoch, see Provenance.HasSigner), and
// it does not persist keys.
package align
