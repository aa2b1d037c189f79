// The consistency oracle: given what the harness asked and what the cluster answered, what did the configuration give?
// Pure and deterministic: no clock, no I/O; the same history gives the same answer in any order.
//
// Data layout: a history is a list of operations, each with its key, invocation and completion times (ms, any origin),
// and an outcome: 'ok' (acknowledged), 'failed' (an error after it was sent: it may have been applied) or 'refused'
// (rejected before anything was sent: certainly not applied). A write names the unique value id it wrote and the ids
// its context covered (the values of the read that produced the context; for a context a put returned, the value that
// put wrote). A read names the value ids it returned (several: siblings). `finalReads` maps each key to what the
// closing read at ALL returned (null: that read failed, so the key is unverified).
//
// Definitions (w' supersedes w, written w ⊏ w'): w' covered w, directly or through a chain of covering writes; in lww
// mode also when w' was invoked after w completed (its timestamp is then later). A read "satisfies" w when it returned
// w or a value that supersedes w; in lww mode a value whose write overlapped w in time satisfies it too (either may
// win). The frontier at time t is the set of writes acknowledged before t that no other write acknowledged before t
// supersedes: the latest acknowledged writes, one per sibling.
//   stale read       an ok read that leaves some frontier write at its invocation unsatisfied
//   t-visibility     over ok reads with a non-empty frontier: P(the read satisfies the latest-acknowledged frontier
//                    write), bucketed by the time from that acknowledgement to the read's invocation
//   k-staleness      for a stale read, how many acknowledged writes (newest first) it missed before the first it saw
//   conflicts        ok reads that returned more than one value, and how many values
//   lost writes      acknowledged writes absent from the final read and not superseded (as Jepsen counts them).
//                    w is superseded when a possibly applied (ok or failed) write overwrote it: in siblings mode one
//                    whose context covered w; in lww mode also any write that began after w was acknowledged (its
//                    timestamp is later, so it must win). In lww mode, an absent write that is not superseded but
//                    overlapped another possibly applied write is "dropped by LWW": the timestamp race chose the other
//                    one (the cost siblings mode does not pay: it would keep both). Only what is left is lost.
//
// Use: const report = analyze({ mode: 'siblings', history, finalReads });
import { InvalidArgumentError } from '../runtime/index.js';

export type Outcome = 'ok' | 'failed' | 'refused';

export interface WriteOp {
  kind: 'write';
  key: string;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  /** the unique id of the value written */
  value: string;
  /** value ids the write's context covered ([] for a blind write) */
  covers: readonly string[];
}

export interface ReadOp {
  kind: 'read';
  key: string;
  startMs: number;
  endMs: number;
  outcome: Outcome;
  /** value ids returned ([] when nothing was found) */
  values: readonly string[];
}

export type HistoryOp = WriteOp | ReadOp;

export interface OracleInput {
  mode: 'siblings' | 'lww';
  history: readonly HistoryOp[];
  /** key -> value ids of the final read at ALL; null where that read failed. Omit to skip lost-write analysis. */
  finalReads?: ReadonlyMap<string, readonly string[] | null>;
  /** keys whose history is incomplete (written after the history limit): left out of the lost-write analysis */
  incompleteKeys?: ReadonlySet<string>;
  /** upper bounds (ms) of the t-visibility buckets, ascending; the last bucket is open */
  bucketBoundsMs?: readonly number[];
}

export interface VisibilityBucket {
  fromMs: number;
  /** null for the open last bucket */
  toMs: number | null;
  reads: number;
  sawLatest: number;
  /** sawLatest / reads, or null when no read fell in the bucket */
  probability: number | null;
}

export interface LostWrite {
  key: string;
  value: string;
  ackedAtMs: number;
}

export interface ConsistencyReport {
  reads: number;
  /** ok reads that had a frontier to be judged against (reads of never-written keys are not judged) */
  judgedReads: number;
  /** reads that returned a value id the history does not know (after the history limit): not judged */
  unjudgedReads: number;
  staleReads: number;
  staleRate: number;
  tVisibility: VisibilityBucket[];
  kStaleness: { histogram: Array<{ k: number; reads: number }>; max: number; mean: number };
  conflicts: { reads: number; rate: number; maxSiblings: number; siblingsHistogram: Array<{ siblings: number; reads: number }> };
  lostWrites: {
    checked: boolean;
    acknowledged: number;
    lost: number;
    lostRate: number;
    /** acknowledged writes whose key the final read could not reach or whose history is incomplete */
    unverified: number;
    /** absent from the final read but overwritten by a write that had seen them (or, lww, began after their ack) */
    superseded: number;
    /** lww only: absent, not superseded, and overlapping another write that the timestamp race let win */
    droppedByLww: number;
    examples: LostWrite[];
  };
}

export const DEFAULT_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
/** k-staleness stops counting here: a read that far behind is reported as this many */
export const MAX_K = 100;
const MAX_EXAMPLES = 10;

interface KeyOps {
  writes: WriteOp[];
  reads: ReadOp[];
  byValue: Map<string, WriteOp>;
}

export function analyze(input: OracleInput): ConsistencyReport {
  const bounds = input.bucketBoundsMs ?? DEFAULT_BUCKETS_MS;
  checkBounds(bounds);
  const keys = groupByKey(input.history);
  const acc = newAccumulator(bounds);
  for (const key of [...keys.keys()].sort()) judgeKey(keys.get(key)!, input.mode, acc);
  const lost = lostWrites(keys, input);
  return summarize(acc, bounds, lost);
}

// ------------------------------------------------------------------------------------------------ grouping

function groupByKey(history: readonly HistoryOp[]): Map<string, KeyOps> {
  const keys = new Map<string, KeyOps>();
  const ids = new Set<string>();
  for (const op of history) {
    checkOp(op);
    let k = keys.get(op.key);
    if (k === undefined) keys.set(op.key, (k = { writes: [], reads: [], byValue: new Map() }));
    if (op.kind === 'write') {
      if (ids.has(op.value)) throw new InvalidArgumentError(`value id ${op.value} is written twice: every write must write a unique value`);
      ids.add(op.value);
      k.writes.push(op);
      if (op.outcome !== 'refused') k.byValue.set(op.value, op);
    } else k.reads.push(op);
  }
  // a deterministic order, whatever order the history came in
  for (const k of keys.values()) {
    k.writes.sort((a, b) => a.endMs - b.endMs || a.startMs - b.startMs || cmp(a.value, b.value));
    k.reads.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs || cmp(a.values.join(), b.values.join()));
  }
  return keys;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function checkOp(op: HistoryOp): void {
  if (op === null || typeof op !== 'object' || (op.kind !== 'read' && op.kind !== 'write')) {
    throw new InvalidArgumentError('every history entry must be { kind: "read" | "write", ... }');
  }
  if (!Number.isFinite(op.startMs) || !Number.isFinite(op.endMs) || op.endMs < op.startMs) {
    throw new InvalidArgumentError(`operation on ${op.key}: startMs and endMs must be finite with startMs <= endMs`);
  }
  if (op.outcome !== 'ok' && op.outcome !== 'failed' && op.outcome !== 'refused') {
    throw new InvalidArgumentError(`operation on ${op.key}: outcome must be ok, failed or refused`);
  }
}

function checkBounds(bounds: readonly number[]): void {
  for (let i = 0; i < bounds.length; i++) {
    if (!(bounds[i] > (i === 0 ? 0 : bounds[i - 1]))) {
      throw new InvalidArgumentError('bucketBoundsMs must be positive and strictly ascending');
    }
  }
}

// ------------------------------------------------------------------------------------------------ supersession

/**
 * The writes `from` supersede through covers, `from` included, searching only writes invoked at or after `minStartMs`.
 * A covered write was read before the covering write was invoked, so a chain of covers descends in invocation time:
 * writes invoked before the oldest one we ask about cannot lead to it, which bounds the search.
 */
function closure(from: readonly WriteOp[], minStartMs: number, ops: KeyOps): Set<WriteOp> {
  const seen = new Set<WriteOp>(from);
  const stack = [...from];
  while (stack.length > 0) {
    const w = stack.pop()!;
    for (const id of w.covers) {
      const c = ops.byValue.get(id);
      if (c !== undefined && c.startMs >= minStartMs && !seen.has(c)) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  return seen;
}

/** In lww mode a write invoked after `older` completed has a later timestamp: it wins. */
const lwwAfter = (mode: OracleInput['mode'], newer: WriteOp, older: WriteOp): boolean => mode === 'lww' && older.endMs < newer.startMs;

const minStart = (ws: readonly WriteOp[]): number => ws.reduce((m, w) => Math.min(m, w.startMs), Infinity);

// ------------------------------------------------------------------------------------------------ reads

interface Accumulator {
  reads: number;
  judged: number;
  unjudged: number;
  stale: number;
  visReads: number[];
  visSaw: number[];
  k: Map<number, number>;
  kSum: number;
  kMax: number;
  conflicts: number;
  siblings: Map<number, number>;
  maxSiblings: number;
  bounds: readonly number[];
}

function newAccumulator(bounds: readonly number[]): Accumulator {
  const z = (): number[] => new Array<number>(bounds.length + 1).fill(0);
  return { reads: 0, judged: 0, unjudged: 0, stale: 0, visReads: z(), visSaw: z(), k: new Map(), kSum: 0, kMax: 0, conflicts: 0, siblings: new Map(), maxSiblings: 0, bounds };
}

/** Sweeps one key's reads in invocation order, adding writes to the frontier as their acknowledgements pass. */
function judgeKey(ops: KeyOps, mode: OracleInput['mode'], acc: Accumulator): void {
  const acked = ops.writes.filter((w) => w.outcome === 'ok');
  let frontier: WriteOp[] = [];
  let next = 0;
  for (const r of ops.reads) {
    if (r.outcome !== 'ok') continue;
    acc.reads++;
    countSiblings(r, acc);
    while (next < acked.length && acked[next].endMs < r.startMs) frontier = addToFrontier(frontier, acked[next++], mode, ops);
    if (frontier.length === 0) continue;
    const returned = r.values.map((id) => ops.byValue.get(id));
    if (returned.some((v) => v === undefined)) {
      acc.unjudged++;
      continue;
    }
    judgeRead(r, returned as WriteOp[], frontier, acked, next, mode, ops, acc);
  }
}

function addToFrontier(frontier: WriteOp[], w: WriteOp, mode: OracleInput['mode'], ops: KeyOps): WriteOp[] {
  const byW = closure([w], minStart(frontier), ops);
  const kept = frontier.filter((f) => !byW.has(f) && !lwwAfter(mode, w, f));
  // a frontier write may already supersede w (it read w before w's acknowledgement came back)
  if (!kept.some((f) => lwwAfter(mode, f, w) || closure([f], w.startMs, ops).has(w))) kept.push(w);
  return kept;
}

function judgeRead(
  r: ReadOp,
  returned: WriteOp[],
  frontier: WriteOp[],
  acked: WriteOp[],
  ackedBefore: number,
  mode: OracleInput['mode'],
  ops: KeyOps,
  acc: Accumulator,
): void {
  acc.judged++;
  let floorMs = minStart(frontier);
  let byReturned = closure(returned, floorMs, ops);
  const seen = (w: WriteOp): boolean => {
    if (w.startMs < floorMs) byReturned = closure(returned, (floorMs = w.startMs), ops);
    // lww: a value whose write did not complete before w was invoked may carry the later timestamp
    return byReturned.has(w) || (mode === 'lww' && returned.some((v) => !(v.endMs < w.startMs)));
  };
  const latest = frontier.reduce((a, b) => (b.endMs > a.endMs ? b : a));
  const bucket = bucketOf(r.startMs - latest.endMs, acc.bounds);
  acc.visReads[bucket]++;
  if (seen(latest)) acc.visSaw[bucket]++;
  if (frontier.every(seen)) return;
  acc.stale++;
  // k: acknowledged writes missed, newest first, up to the first one the read accounts for
  let k = 0;
  for (let i = ackedBefore - 1; i >= 0 && k < MAX_K; i--) {
    if (seen(acked[i])) break;
    k++;
  }
  k = Math.max(k, 1);
  acc.k.set(k, (acc.k.get(k) ?? 0) + 1);
  acc.kSum += k;
  acc.kMax = Math.max(acc.kMax, k);
}

function countSiblings(r: ReadOp, acc: Accumulator): void {
  const n = r.values.length;
  if (n < 2) return;
  acc.conflicts++;
  acc.siblings.set(n, (acc.siblings.get(n) ?? 0) + 1);
  acc.maxSiblings = Math.max(acc.maxSiblings, n);
}

function bucketOf(ms: number, bounds: readonly number[]): number {
  let i = 0;
  while (i < bounds.length && ms >= bounds[i]) i++;
  return i;
}

// ------------------------------------------------------------------------------------------------ lost writes

function lostWrites(keys: Map<string, KeyOps>, input: OracleInput): ConsistencyReport['lostWrites'] {
  const out: ConsistencyReport['lostWrites'] = {
    checked: input.finalReads !== undefined,
    acknowledged: 0,
    lost: 0,
    lostRate: 0,
    unverified: 0,
    superseded: 0,
    droppedByLww: 0,
    examples: [],
  };
  for (const key of [...keys.keys()].sort()) {
    const ops = keys.get(key)!;
    const final = input.finalReads?.get(key);
    const verifiable = final !== undefined && final !== null && !input.incompleteKeys?.has(key);
    const fate = verifiable ? fateOf(ops, new Set(final), input.mode) : undefined;
    for (const w of ops.writes) {
      if (w.outcome !== 'ok') continue;
      out.acknowledged++;
      if (input.finalReads === undefined) continue;
      const f = fate === undefined ? 'unverified' : fate(w);
      if (f === 'kept') continue;
      out[f]++;
      if (f === 'lost' && out.examples.length < MAX_EXAMPLES) out.examples.push({ key, value: w.value, ackedAtMs: w.endMs });
    }
  }
  const verified = out.acknowledged - out.unverified;
  out.lostRate = out.checked && verified > 0 ? out.lost / verified : 0;
  return out;
}

type Fate = 'kept' | 'superseded' | 'droppedByLww' | 'lost';

/** What became of each acknowledged write of one key, given the key's final values. */
function fateOf(ops: KeyOps, finalIds: ReadonlySet<string>, mode: OracleInput['mode']): (w: WriteOp) => Fate {
  // writes that may have been applied: acknowledged, or failed after they were sent
  const applied = ops.writes.filter((x) => x.outcome !== 'refused');
  const coveredIds = new Set<string>();
  for (const x of applied) for (const id of x.covers) coveredIds.add(id);
  const lastStartMs = applied.reduce((m, x) => Math.max(m, x.startMs), -Infinity);
  return (w) => {
    if (finalIds.has(w.value)) return 'kept';
    if (coveredIds.has(w.value)) return 'superseded';
    if (mode === 'siblings') return 'lost';
    // lww: a write that began after w was acknowledged carries a later timestamp and must win
    if (lastStartMs > w.endMs) return 'superseded';
    const overlaps = applied.some((x) => x !== w && x.startMs <= w.endMs && w.startMs <= x.endMs);
    return overlaps ? 'droppedByLww' : 'lost';
  };
}

// ------------------------------------------------------------------------------------------------ summary

function summarize(acc: Accumulator, bounds: readonly number[], lost: ConsistencyReport['lostWrites']): ConsistencyReport {
  const tVisibility: VisibilityBucket[] = acc.visReads.map((reads, i) => ({
    fromMs: i === 0 ? 0 : bounds[i - 1],
    toMs: i < bounds.length ? bounds[i] : null,
    reads,
    sawLatest: acc.visSaw[i],
    probability: reads === 0 ? null : acc.visSaw[i] / reads,
  }));
  const sorted = <T>(m: Map<number, number>, f: (k: number, n: number) => T): T[] =>
    [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, n]) => f(k, n));
  return {
    reads: acc.reads,
    judgedReads: acc.judged,
    unjudgedReads: acc.unjudged,
    staleReads: acc.stale,
    staleRate: acc.judged === 0 ? 0 : acc.stale / acc.judged,
    tVisibility,
    kStaleness: {
      histogram: sorted(acc.k, (k, reads) => ({ k, reads })),
      max: acc.kMax,
      mean: acc.stale === 0 ? 0 : acc.kSum / acc.stale,
    },
    conflicts: {
      reads: acc.conflicts,
      rate: acc.reads === 0 ? 0 : acc.conflicts / acc.reads,
      maxSiblings: acc.maxSiblings,
      siblingsHistogram: sorted(acc.siblings, (siblings, reads) => ({ siblings, reads })),
    },
    lostWrites: lost,
  };
}
