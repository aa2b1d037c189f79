// One seeded randomized run of the simulated cluster for test/sim-random.test.ts (and for classifying violations
// over many seeds from a script): the seed draws the configuration, the schedule and the workload; the run ends with
// heal, settle, two anti-entropy rounds, inspection of every node, a read of every key at ALL and a calm phase, and
// the independent oracle's verdict. Same seed, same code: same run.
import { hash32, keyId } from '../../actors/hash.js';
import { LeaderlessError } from '../../actors/errors.js';
import { Prng } from '../../runtime/host/prng.js';
import { SimCluster, type SimOptions } from '../../runtime/sim/sim-cluster.js';
import type { LeaderlessClient } from '../../runtime/api.js';
import { History } from './kv-history.js';
import { judge, type FinalKey, type HistoryOp, type Violation } from './kv-oracle.js';

/** how far past its timeoutMs an operation may settle, virtual ms (ticks are 10 ms) */
export const SLACK_MS = 50;
/** virtual ms the workload runs */
const WORKLOAD_MS = 1500;
const CALM_KEYS = 4;

type Level = number | 'ONE' | 'TWO' | 'THREE' | 'QUORUM' | 'ALL' | 'ANY';

export interface Drawn {
  options: SimOptions & { nodes: number; replication: number; timeoutMs: number };
  keys: string[];
  slots: number;
  readLevels: Level[];
  writeLevels: Level[];
  /** crashes with wipe the schedule may do: fewer than the smallest W a write may be acked with */
  maxWipes: number;
  /** nodes join, leave and are replaced during the workload (test/sim-membership.test.ts) */
  membership: boolean;
  /** the share of writes sent to a coordinator drawn among all nodes (a proxy when not a replica: test/proxy-put.test.ts) */
  proxyWrites?: number;
}

/** Replicas a level needs for N (ANY: one, a hint alone). */
function countOf(level: Level, n: number): number {
  if (typeof level === 'number') return level;
  return { ONE: 1, ANY: 1, TWO: 2, THREE: 3, QUORUM: Math.floor(n / 2) + 1, ALL: n }[level];
}

function levels(n: number, write: boolean): Level[] {
  const named: Level[] = ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', ...(write ? (['ANY'] as Level[]) : [])];
  const numbers = Array.from({ length: n }, (_, i) => i + 1);
  return [...numbers, ...named.filter((l) => countOf(l, n) <= n)];
}

function pick<T>(rng: Prng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** `override` replaces drawn options (e.g. { sloppy: false }): to see which mechanism a violation needs. */
export function drawConfig(seed: number, override: Record<string, unknown> = {}, membership = false): Drawn {
  const rng = new Prng((seed * 2654435761) >>> 0);
  const nodes = 3 + rng.int(5);
  const replication = 1 + rng.int(Math.min(5, nodes));
  const readLevels = levels(replication, false);
  const allWriteLevels = levels(replication, true);
  const read = pick(rng, readLevels);
  const write = pick(rng, allWriteLevels);
  // per-operation levels no weaker than the default, so that wipes can be bounded by it (W - 1 of them)
  const w = countOf(write, replication);
  const writeLevels = allWriteLevels.filter((l) => countOf(l, replication) >= w);
  const hintTtlMs = pick(rng, [100, 400, 1500, 3 * 3600_000]);
  // hintTtlMs no longer drops hints (deprecated, no effect), so a grace shorter than it is allowed: one draw in 20
  const tombstoneGraceMs = rng.chance(0.05) ? Math.floor(hintTtlMs / 2) : hintTtlMs * pick(rng, [1, 1, 2, 10]);
  const timeoutMs = pick(rng, [80, 200, 500, 1000]);
  const options: Drawn['options'] = {
    seed, nodes, replication, read, write, timeoutMs,
    vnodes: pick(rng, [1, 2, 4, 16, 64]),
    readFanout: pick(rng, ['quorum', 'all'] as const),
    sloppy: rng.chance(0.5),
    readRepair: pick(rng, ['async', 'blocking', 'off'] as const),
    sharedMemoryReads: pick(rng, ['one', 'quorum', 'off'] as const),
    localReads: rng.chance(0.3),
    storeMaxKeys: pick(rng, [16, 32, 1 << 18]),
    hintAfterMs: pick(rng, [10, 50, 200]),
    // 0 (off) is the default; > 0 opts in to at-least-once failover (see test/sim-random.test.ts)
    coordinatorFailoverMs: pick(rng, [0, 0, 0, 40, 150, 600]),
    readRetryMs: pick(rng, [10, 50, 200]),
    hints: { hintTtlMs, maxHintWindowMs: pick(rng, [200, 1000, 3 * 3600_000]), maxHintsPerOwner: pick(rng, [4, 64, 100_000]) },
    antiEntropy: { tombstoneGraceMs, intervalMs: pick(rng, [0, 0, 100, 500]) },
    latency: rng.chance(0.5)
      ? { kind: 'uniform', minMs: 0.5, maxMs: 1.5 }
      : { kind: 'mixture', parts: [{ weight: 19, dist: { kind: 'uniform', minMs: 0.2, maxMs: 3 } }, { weight: 1, dist: { kind: 'pareto', xm: 5, alpha: 1.5 } }] },
    duplicateProbability: pick(rng, [0, 0, 0.02]),
    ...override,
  };
  const keys = Array.from({ length: 2 + rng.int(9) }, (_, i) => `k${i}`); // up to 10 (+ CALM_KEYS) fit a 16-key store; hints for several owners may not
  const slots = 2 + rng.int(3);
  if (override.replication !== undefined || override.write !== undefined || override.read !== undefined) {
    // an override of N, R or W: the levels (and the wipes W bounds) follow the configuration that runs, not the draw
    const n = options.replication;
    const ow = countOf(options.write as Level, n);
    const wl = levels(n, true).filter((l) => countOf(l, n) >= ow);
    return { options, keys, slots, readLevels: levels(n, false), writeLevels: wl, maxWipes: ow - 1, membership };
  }
  // every write is acked by at least w replicas (or their stand-ins): fewer than w wipes cannot lose one legitimately
  return { options, keys, slots, readLevels, writeLevels, maxWipes: w - 1, membership };
}

interface Run {
  cluster: SimCluster;
  /** the membership changes the schedule started, in order (each awaited before the next) */
  changes: Promise<void>;
  history: History;
  faults: string[];
  going: boolean;
  wipes: number;
  nextValue: number;
}

/** Same seed, same run: returns the violations and what a failure report needs. */
export async function runSeed(
  seed: number,
  override: Record<string, unknown> = {},
  membership = false,
  proxyWrites = 0,
): Promise<{ violations: Violation[]; drawn: Drawn; faults: string[]; refused?: string; ops?: HistoryOp[]; finals?: FinalKey[] }> {
  const drawn = drawConfig(seed, override, membership);
  if (proxyWrites > 0) drawn.proxyWrites = proxyWrites;
  let cluster: SimCluster;
  try {
    cluster = await SimCluster.start(drawn.options);
  } catch (e) {
    // every draw is a valid configuration: a typed refusal is reported (the test fails on it), anything else throws
    if (e instanceof LeaderlessError && e.code === 'INVALID_CONFIG') return { violations: [], drawn, faults: [], refused: e.message };
    throw e;
  }
  const rng = new Prng((seed ^ 0x9e3779b9) >>> 0);
  const run: Run = {
    cluster, history: new History(() => cluster.nowMs, drawn.options.timeoutMs), faults: [], going: true, wipes: 0, nextValue: 0,
    changes: Promise.resolve(),
  };
  try {
    for (let s = 0; s < drawn.slots; s++) {
      // a slot stops when the cluster does (or crashed): say so in the fault log rather than reject unhandled
      void slot(run, drawn, rng.fork(), s).catch((e: Error) => run.faults.push(`${cluster.nowMs.toFixed(1)} slot ${s} stopped: ${e.message}`));
    }
    const changes = drawn.membership ? membershipNemesis(run, drawn, rng.fork()) : Promise.resolve();
    run.changes = changes;
    await Promise.all([cluster.sleep(WORKLOAD_MS).then(() => (run.going = false)), nemesis(run, drawn, rng.fork())]);
    const ops = await closeHistory(run, drawn);
    const finals = await heal(run, drawn);
    const calmFromMs = cluster.nowMs;
    await calm(run, drawn, rng.fork());
    const all = [...ops, ...(await closeHistory(run, drawn)).slice(ops.length)];
    const violations = judge({ ops: all, finals, endMs: cluster.nowMs, slackMs: SLACK_MS, replication: drawn.options.replication, calmFromMs });
    return { violations, drawn, faults: run.faults, ops: all, finals };
  } catch (e) {
    const crash = `the run threw: ${(e as Error).stack ?? String(e)}`;
    return { violations: [{ kind: 'final-read-failed', key: '*', detail: crash }], drawn, faults: run.faults };
  } finally {
    await cluster.stop();
  }
}

/** One client slot: clients are created near a random node (or unplaced), do a few operations, and are closed. */
async function slot(run: Run, d: Drawn, rng: Prng, s: number): Promise<void> {
  const nodes = d.options.nodes;
  for (let gen = 0; run.going; gen++) {
    const c = await run.cluster.client(rng.chance(0.7) ? { near: d.membership ? pick(rng, live(run)) : rng.int(nodes) } : {});
    const name = `s${s}.${gen}`;
    const last = new Map<string, HistoryOp>();
    const ops = 2 + rng.int(8);
    for (let i = 0; i < ops && run.going; i++) {
      await run.cluster.sleep(rng.uniform(0, 40));
      if (!run.going) break;
      const p = oneOp(run, d, rng, c, name, last);
      // churn: sometimes the client is closed while its operation is in flight
      if (rng.chance(0.03)) break;
      await p;
    }
    c.close();
  }
}

async function oneOp(run: Run, d: Drawn, rng: Prng, c: LeaderlessClient, name: string, last: Map<string, HistoryOp>): Promise<void> {
  const key = pick(rng, d.keys);
  const h = run.history;
  const r = rng.float();
  if (r < 0.2) {
    const { options, count } = readOptions(d, rng);
    await h.get(c, name, key, options, count);
    return;
  }
  let from: HistoryOp | undefined;
  if (r < 0.6) {
    const { options, count } = readOptions(d, rng);
    from = await h.get(c, name, key, options, count);
    if (from.outcome !== 'ok' || !run.going) return;
  } else if (r < 0.75) {
    from = last.get(key); // chain on the context the last put returned
  }
  const del = rng.chance(from === undefined ? 0.08 : 0.2);
  const options = writeOptions(d, rng);
  const op = await h.write(c, name, key, del ? null : `v${run.nextValue++}`, from, options);
  if (op.outcome === 'ok' && op.kind === 'put' && op.values!.length === 1) last.set(key, op);
  else last.delete(key);
}

function readOptions(d: Drawn, rng: Prng): { options: Record<string, unknown>; count: number } {
  const options: Record<string, unknown> = {};
  let level = d.options.read as Level;
  if (rng.chance(0.4)) options.consistency = level = pick(rng, d.readLevels);
  if (rng.chance(0.2)) options.readRepair = pick(rng, ['async', 'blocking', 'off']);
  if (rng.chance(0.2)) options.timeoutMs = pick(rng, [50, 150, 400]);
  return { options, count: countOf(level, d.options.replication) };
}

function writeOptions(d: Drawn, rng: Prng): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (rng.chance(0.4)) options.consistency = pick(rng, d.writeLevels);
  if (rng.chance(0.2)) options.timeoutMs = pick(rng, [50, 150, 400]);
  // drawn only when asked for: the default runs draw exactly as before (their seeds replay the same)
  if (d.proxyWrites !== undefined && rng.chance(d.proxyWrites)) options.coordinator = rng.int(d.options.nodes);
  return options;
}

async function nemesis(run: Run, d: Drawn, rng: Prng): Promise<void> {
  const { cluster } = run;
  const n = d.options.nodes;
  const log = (s: string): void => void run.faults.push(`${cluster.nowMs.toFixed(1)} ${s}`);
  while (run.going) {
    await cluster.sleep(rng.uniform(20, 200));
    if (!run.going) break;
    const nodes = d.membership ? live(run) : [...Array(n).keys()];
    const node = pick(rng, nodes);
    const r = rng.float();
    if (r < 0.14 && nodes.length >= 2) {
      const groups = split(rng, nodes);
      cluster.faults.partition(groups);
      log(`partition ${JSON.stringify(groups)}`);
    } else if (r < 0.26) {
      cluster.faults.heal();
      log('heal');
    } else if (r < 0.38) {
      await cluster.faults.kill(node, { stayDown: true });
      log(`kill ${node}`);
    } else if (r < 0.5) {
      cluster.faults.restart(node);
      log(`restart ${node}`);
    } else if (r < 0.56) {
      if (nodes.length >= 2) await twoDown(run, rng, nodes, log);
    } else if (r < 0.6 && run.wipes < d.maxWipes) {
      run.wipes++;
      cluster.faults.kill(node, { wipe: true, stayDown: true });
      log(`crash ${node} wipe`);
    } else if (r < 0.68) {
      cluster.faults.pause(node);
      log(`pause ${node}`);
    } else if (r < 0.76) {
      cluster.faults.resume(node);
      log(`resume ${node}`);
    } else if (r < 0.84) {
      const ms = rng.uniform(5, 150);
      cluster.faults.delay({ to: node, ms: { kind: 'exponential', rate: 1 / ms } as never });
      cluster.faults.delay({ from: node, ms: { kind: 'exponential', rate: 1 / ms } as never });
      log(`delay ${node} exp(mean ${ms.toFixed(0)} ms)`);
    } else if (r < 0.92) {
      const p = rng.uniform(0.05, 0.5);
      cluster.faults.drop(rng.chance(0.8) ? { to: node, probability: p } : { probability: p });
      log(`drop p=${p.toFixed(2)}`);
    } else {
      cluster.faults.clear();
      log('clear');
    }
  }
}

/** The nodes on the ring now (those that left are gone for good). */
function live(run: Run): number[] {
  return run.cluster.membership().members;
}

/**
 * Joins, leaves and replacements during the workload, one at a time, each awaited (a change stalls while a node it
 * needs is down, and completes when the final heal brings every node back). A change the ring refuses (a leave
 * below N) is logged; any other error fails the run.
 */
async function membershipNemesis(run: Run, d: Drawn, rng: Prng): Promise<void> {
  const { cluster } = run;
  const log = (s: string): void => void run.faults.push(`${cluster.nowMs.toFixed(1)} ${s}`);
  const maxMembers = d.options.nodes + 3;
  while (run.going) {
    await cluster.sleep(rng.uniform(30, 300));
    if (!run.going) break;
    const members = live(run);
    const r = rng.float();
    const node = pick(rng, members);
    try {
      if (r < 0.45 && members.length < maxMembers) {
        log('join: start');
        const res = await cluster.addNode();
        log(`join: node ${res.node} done, epoch ${res.epoch}, ${res.keysMoved} keys moved, ${res.keysDropped} dropped`);
      } else if (r < 0.85) {
        log(`leave ${node}: start`);
        const res = await cluster.removeNode(node);
        log(`leave ${node}: done, epoch ${res.epoch}, ${res.keysMoved} keys moved`);
      } else if (run.wipes < d.maxWipes) {
        // a replace rebuilds the node's ranges from the other replicas: what it alone held is lost, as with a wipe
        run.wipes++;
        log(`replace ${node}: start`);
        const res = await cluster.replaceNode(node);
        log(`replace ${node}: by ${res.replacement}, epoch ${res.epoch}, ${res.keysMoved} keys moved`);
      }
    } catch (e) {
      if ((e as LeaderlessError).code !== 'INVALID_ARGUMENT') throw e;
      log(`refused: ${(e as Error).message}`);
    }
  }
}

/** Two nodes go down together and come back in either order, the second while the first is coming back. */
async function twoDown(run: Run, rng: Prng, nodes: number[], log: (s: string) => void): Promise<void> {
  const n = nodes.length;
  const i = rng.int(n);
  const a = nodes[i];
  const b = nodes[(i + 1 + rng.int(n - 1)) % n];
  await run.cluster.faults.kill(a, { stayDown: true });
  await run.cluster.faults.kill(b, { stayDown: true });
  await run.cluster.sleep(rng.uniform(0, 30));
  const [first, second] = rng.chance(0.5) ? [a, b] : [b, a];
  run.cluster.faults.restart(first);
  run.cluster.faults.restart(second);
  log(`kill ${a}+${b}, restart ${first} then ${second}`);
}

/** Nodes shuffled into 2 or 3 groups (clients near a node are cut off with it). */
function split(rng: Prng, nodes: number[]): number[][] {
  const n = nodes.length;
  const order = [...nodes];
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const a = 1 + rng.int(n - 1);
  const b = rng.chance(0.3) && a < n - 1 ? a + 1 + rng.int(n - 1 - a) : n;
  return [order.slice(0, a), order.slice(a, b), order.slice(b)].filter((g) => g.length > 0);
}

/** Waits until every operation settled or could no longer settle in time; returns a snapshot of the history. */
async function closeHistory(run: Run, d: Drawn): Promise<HistoryOp[]> {
  // long enough that a late operation (one past its timeout) still settles and is judged late, not unsettled
  const limitMs = run.cluster.nowMs + 4 * Math.max(d.options.timeoutMs, 400) + 2 * Math.min(d.options.coordinatorFailoverMs!, 2000) + SLACK_MS;
  while (run.history.pending() > 0 && run.cluster.nowMs < limitMs) await run.cluster.sleep(20);
  return structuredClone(run.history.ops);
}

/** Heal, settle, two anti-entropy rounds, then what every node holds and a read of every key at ALL. */
async function heal(run: Run, d: Drawn): Promise<FinalKey[]> {
  const { cluster } = run;
  cluster.faults.clear();
  run.faults.push(`${cluster.nowMs.toFixed(1)} clear (final)`);
  await cluster.sleep(100);
  await run.changes; // a change stalled by a node down completes once every node is back
  const m = cluster.membership();
  if (m.inProgress !== null) throw new Error(`a membership change is still in progress after heal: ${JSON.stringify(m.inProgress)}`);
  for (let round = 0; round < 2; round++) {
    await cluster.settle();
    await cluster.repair();
  }
  await cluster.settle();
  const finals: FinalKey[] = [];
  for (const key of d.keys) {
    const primaries = cluster.ring.preferenceList(hash32(keyId(key)));
    const holds = (node: number): { node: number; held: FinalKey['primaries'][number]['held'] } => {
      const h = cluster.inspect(node, key);
      return { node, held: h === undefined ? undefined : { values: h.values.map(String), context: h.context } };
    };
    const f: FinalKey = {
      key, values: null,
      primaries: primaries.map(holds),
      others: (d.membership ? live(run) : [...Array(d.options.nodes).keys()]).filter((x) => !primaries.includes(x)).map(holds),
    };
    try {
      f.values = (await cluster.get(key, { consistency: 'ALL', readRepair: 'off', timeoutMs: 10_000 })).values.map(String);
    } catch (e) {
      f.error = `${(e as LeaderlessError).code ?? ''} ${(e as Error).message}`;
    }
    finals.push(f);
  }
  return finals;
}

/** No faults, handoff done: puts at ALL on fresh keys, each read back once at the drawn read level. */
async function calm(run: Run, d: Drawn, rng: Prng): Promise<void> {
  const c = await run.cluster.client();
  for (let i = 0; i < CALM_KEYS; i++) {
    const key = `calm${i}`;
    await run.history.write(c, 'calm', key, `v${run.nextValue++}`, undefined, { consistency: 'ALL' });
    const { options, count } = readOptions(d, rng);
    await run.history.get(c, 'calm', key, options, count);
  }
  c.close();
}

/** The drawn configuration in one line (the latency distribution and seed left out). */
export function describeDrawn(d: Drawn): string {
  const { latency, seed, ...rest } = d.options;
  void latency;
  void seed;
  return `${JSON.stringify(rest)} keys ${d.keys.length} slots ${d.slots} maxWipes ${d.maxWipes}`;
}
