// Package ledger is the traceability ledger: an append-only, verifiable
// transparency log of the entries defined in package ledger/entry, stored
// in the C2SP tlog-tiles layout by tessera's POSIX driver, whose every
// published checkpoint carries the cosignature of every party.
//
// It is the log's writer side, used by the coordinator: Open, Append,
// proofs and entry reads, and a read-only HTTP handler for the tiles. It is
// not the party side (package ledger/witness holds the witness state
// machine and the decryption gate), not the auditor (package ledger/audit),
// and not the network between coordinator and parties (the coordinator
// implements Cosigner over gRPC). It does no Merkle hashing of its own:
// tessera builds the tree, github.com/transparency-dev/merkle verifies
// proofs, and golang.org/x/mod/sumdb/note with
// github.com/transparency-dev/formats handles checkpoints and cosignatures.
//
// # Cosigning: tessera's witness machinery, in process
//
// Tessera can already refuse to publish a checkpoint until a witness
// policy is met (WithWitnesses with FailOpen false): it builds the
// consistency proof from the size each witness last cosigned, follows the
// tlog-witness 409 "your old size is wrong" protocol and writes the
// checkpoint file only once the policy is satisfied. Rather than re-doing
// that in a second loop, the log hands tessera an http.Client whose
// RoundTripper answers tessera's add-checkpoint POSTs by calling the
// configured Cosigners directly (no socket is opened), with the policy
// "all of them". Consequences:
//
//   - The tlog-tiles "checkpoint" file itself is the cosigned checkpoint:
//     it is only ever (atomically) replaced by a checkpoint carrying the
//     log's signature and every party's cosignature. There is no second,
//     uncosigned checkpoint for a reader to trust by mistake.
//   - If a party refuses or is unreachable, nothing new is published; the
//     entries are durable and will be published once every party cosigns.
//     Append waits for that until its context ends.
//   - Opening a new log directory publishes the empty tree, which the
//     parties must already cosign.
//
// # Latency and batching
//
// Defaults: entries are batched for at most 10 ms (or 256 entries), a
// checkpoint is attempted every 100 ms (tessera's POSIX minimum), and
// Append polls for publication every 10 ms. A lone Append therefore waits
// about batch age + integration + up to two checkpoint intervals + one
// cosigning round; see the package benchmarks for measured figures.
//
// # Origin and keys
//
// Tessera names the checkpoint origin after the log key, so Config.Origin
// must equal Config.Signer.Name(); parties and auditors take the origin
// from the log verifier's name.
package ledger
