// Package dp computes the differential-privacy noise of a query's
// decrypted totals: the exact discrete Laplace sampler, the calibration of
// its scale to a plan's sums, which parties add noise, and how wide the
// noise is.
//
// The noise is distributed: each party adds its share inside its PCKS
// decryption share (mpc.Params.DecryptShare), so the analyst only ever
// decrypts noisy totals and no one knows the total noise. Privacy budget ε
// is an integer number of thousandths, EpsilonMilli (ε = EpsilonMilli/1000;
// 0 means exact totals, no noise).
//
// # Calibration
//
// A query computes K distinct sums per group (plan.Plan.Sums). Adding or
// removing one person changes sum s of one group by at most its
// sensitivity Δ_s (Sensitivity): 1 for the count, the column's declared
// Max for a sum of non-negative values, Max² for a sum of squares. Groups
// are disjoint, so they compose in parallel; the K sums compose
// sequentially with ε split equally, so every total of sum s gets discrete
// Laplace noise of scale t_s = Δ_s·K/ε = Δ_s·K·1000/EpsilonMilli (Scales),
// an exact rational.
//
// # Collusion
//
// A query commits a collusion tolerance k, 0 ≤ k ≤ N−1 for N parties. The
// parties at rank 0..k in the sorted list of all parties each add a full,
// independent DLap(t_s) to every total (Noisy, Shares); the others add
// nothing. Any k colluding parties (with the analyst) know at most k of
// the k+1 noises; the remaining one alone makes the release ε-DP, and the
// others' are post-processing. The total noise of a total is the sum of
// k+1 i.i.d. DLap(t_s): HalfWidth95 gives its 95% half-width.
//
// # What it is not
//
// Package dp is pure: no I/O except the randomness source passed in (an
// io.Reader, crypto/rand.Reader in production), no global state, and no
// floating point in sampling. It does not choose ε or k, account a budget
// across queries, or touch ciphertexts.
package dp
