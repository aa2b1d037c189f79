// A small seeded workload for adversarial membership scenarios (test/membership-adversarial.test.ts): client slots
// read, write and delete a few keys with contexts at the levels given, while a script runs membership changes and
// faults; then every fault is cleared, the script awaited, the cluster settled and repaired twice, every node
// inspected, every key read at ALL, and the independent oracle (kv-oracle.ts) judges the history.
import { hash32, keyId } from '../../actors/hash.js';
import { Prng } from '../../runtime/host/prng.js';
import type { SimCluster } from '../../runtime/sim/sim-cluster.js';
import { History } from './kv-history.js';
import { judge, type FinalKey, type HistoryOp, type Violation } from './kv-oracle.js';

export interface WorkloadOptions {
  seed: number;
  keys: number;
  slots: number;
  /** virtual ms the workload runs */
  durationMs: number;
  timeoutMs: number;
  replication: number;
  /** per-operation options drawn from these (each an options object, e.g. { consistency: 'LOCAL_QUORUM' }) */
  readOptions: Array<Record<string, unknown>>;
  writeOptions: Array<Record<string, unknown>>;
  /** probability that a write is a delete */
  deletes?: number;
  /** where clients are placed (default: near a random member, or none) */
  near?: () => number | undefined;
  /** the final read's options (default { consistency: 'ALL' }) */
  finalRead?: Record<string, unknown>;
  /**
   * no faults run, only membership changes: every read (of `readCount` replicas) must see each put acknowledged by
   * enough primaries before it began (the oracle's stale-quorum-read, judged over the whole run)
   */
  calm?: { readCount: number };
}

export interface WorkloadResult {
  violations: Violation[];
  history: HistoryOp[];
  finals: FinalKey[];
}

/** Runs the workload while `script` runs; returns the oracle's verdict. */
export async function judgedWorkload(c: SimCluster, o: WorkloadOptions, script: () => Promise<void>): Promise<WorkloadResult> {
  const rng = new Prng(o.seed);
  const h = new History(() => c.nowMs, o.timeoutMs);
  const keys = Array.from({ length: o.keys }, (_, i) => `w${i}`);
  let going = true;
  let next = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const slot = async (s: number): Promise<void> => {
    for (let gen = 0; going; gen++) {
      const members = c.membership().members;
      const near = o.near ? o.near() : rng.chance(0.7) ? pick(members) : undefined;
      const client = await c.client(near === undefined ? {} : { near });
      const name = `s${s}.${gen}`;
      for (let i = 0; i < 6 && going; i++) {
        await c.sleep(rng.uniform(0, 20));
        const key = pick(keys);
        const from = await h.get(client, name, key, { ...pick(o.readOptions) }, o.calm?.readCount ?? 1);
        if (from.outcome !== 'ok' || !going) continue;
        const del = rng.chance(o.deletes ?? 0.15);
        await h.write(client, name, key, del ? null : `v${next++}`, rng.chance(0.8) ? from : undefined, { ...pick(o.writeOptions) });
      }
      client.close();
    }
  };
  const slots = Array.from({ length: o.slots }, (_, s) => slot(s));
  const scripted = script();
  await c.sleep(o.durationMs);
  going = false;
  await Promise.all(slots);
  await c.faults.clear();
  await scripted;
  for (let round = 0; round < 2; round++) {
    await c.settle();
    await c.repair();
  }
  await c.settle();
  const ops = structuredClone(h.ops);
  const finals: FinalKey[] = [];
  for (const key of keys) {
    const primaries = c.ring.preferenceList(hash32(keyId(key)));
    const holds = (node: number): { node: number; held: FinalKey['primaries'][number]['held'] } => {
      const x = c.inspect(node, key);
      return { node, held: x === undefined ? undefined : { values: x.values.map(String), context: x.context } };
    };
    const f: FinalKey = {
      key, values: null, primaries: primaries.map(holds),
      others: c.membership().members.filter((x) => !primaries.includes(x)).map(holds),
    };
    try {
      f.values = (await c.get(key, { consistency: 'ALL', readRepair: 'off', timeoutMs: 10_000, ...o.finalRead })).values.map(String);
    } catch (e) {
      f.error = `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`;
    }
    finals.push(f);
  }
  const calmFromMs = o.calm === undefined ? undefined : 0;
  const violations = judge({ ops, finals, endMs: c.nowMs, slackMs: 50, replication: o.replication, ...(calmFromMs === undefined ? {} : { calmFromMs }) });
  return { violations, history: ops, finals };
}
