// `leaderless pbs`: Probabilistically Bounded Staleness (Bailis et al., VLDB 2012) reproduced on the simulated
// cluster running the real protocol, printed beside the paper's closed form and its WARS Monte Carlo.
//
// One trial: a write of a fresh key to all N replicas (the coordinator waits for W acks), then reads of that key
// t ms after the write commits, one read per t in the grid, each asking all N replicas and answering with the first
// R (readFanout 'all', read repair and anti-entropy off, strict quorums). A read is consistent iff it returns the
// value just written. Reads do not change state, so each read at t is a fair sample of "a read t ms after commit";
// the reads of one trial share its write, which correlates neighbouring t (a smoother curve, not a biased one).
// P(consistent) at t is the fraction of trials whose read at t was consistent.
//
// Three numbers per (profile, R, W, t):
//   measured     the simulated cluster (runtime/sim), every replica the real actor from actors/, message latencies
//                drawn per message type: 'replicate' = W, 'replicate-ack' = A, 'get' = R, 'get-reply' = S; the
//                client sits beside the coordinating replica ('put' and 'put-reply' take 0 ms), so the client hears
//                of the commit the moment the coordinator counts its W-th ack, as in the paper.
//   WARS         the paper's model: a coordinator apart from the N replicas; commit at the W-th fastest W_i + A_i; a
//                read at commit + t sees the write on replica i iff W_i <= commit + t + R_i; it uses the first R
//                replies by R_i + S_i.
//   WARS-local   the same model with our protocol's one difference: the coordinator is one of the N replicas and
//                applies the write locally at once (W_c = A_c = 0). It explains the gap between WARS and measured:
//                one replica always has the write at commit (P higher than WARS for W >= 2), but a W = 1 write
//                commits at once, before a round trip could spread it (P lower than WARS at small t for W = 1).
//   closed form  1 - C(N-W, R) / C(N, R): the k = 1 staleness bound, the same for every t.
//
// Data layout: a profile is four distributions (W, A, R, S) plus remoteMs, the extra one-way latency of a message
// that crosses datacenters (wan only: 3 datacenters of one replica each, so one replica is local to an operation's
// coordinator, chosen at random per operation: the writer's by the key, the reader's by a draw). Model trials keep
// one threshold per trial: the smallest t at which its read is consistent (0 when consistent at once), so P(t) and
// the t for 99.9% are read off the sorted thresholds exactly. The simulation measures on a grid of t only.
//
// Files: profiles.ts (profiles, bounds, shared checks), closed-form.ts, model.ts (WARS), simulation.ts, options.ts,
// run.ts (the cells), format.ts (terminal text), html.ts (the report page), command.ts (the CLI command).
//
// Use: runPbs(parsePbsOptions({ profile: 'lnkd-ssd', trials: '2000' }), process.stdout).
export * from './profiles.js';
export * from './closed-form.js';
export * from './model.js';
export * from './simulation.js';
export * from './options.js';
export * from './run.js';
export * from './format.js';
export * from './html.js';
export * from './command.js';
export * from './visibility.js';
export * from './validate.js';
export * from './validate-command.js';
