// Helpers for the scenario suite (test/scenarios.test.ts): one way to start either runtime through the public entry,
// placement read from the cluster's own configuration, waits in the runtime's time (real in threads, virtual in the
// simulator), and the outcome of a call as data. Everything here sees a cluster only as a LeaderlessCluster.
import assert from 'node:assert/strict';
import { hash32, keyId } from '../../actors/hash.js';
import { Ring } from '../../actors/ring.js';
import type { ClusterEvent, LeaderlessClient, LeaderlessCluster, NodeEvent } from '../../runtime/api.js';
import { Cluster, LeaderlessError, type ClusterOptions, type PutOptions, type PutResult, type Value } from '../../runtime/index.js';

export const RUNTIMES = ['threads', 'sim'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/**
 * Small timeouts so that the thread runtime's scenarios run in a second or two each (the settings of
 * test/failures.test.ts and test/thread-safety.test.ts): the detector samples every 10 ms, a killed node restarts after
 * 20 ms, a silent link is down after 100 ms, a write and a read give up after 600 ms. The simulator takes the same.
 */
export const FAST: ClusterOptions = {
  failureDetector: { sampleMs: 10, minStdDeviationMs: 10, threshold: 8 },
  restart: { delayMs: 20 },
  links: { timeoutMs: 100, initialTimeoutMs: 200, probeIntervalMs: 50 },
  hintAfterMs: 50,
  readRetryMs: 50,
  timeoutMs: 600,
};

/** Every scenario's seed in the simulator (the thread runtime ignores it). */
export const SEED = 10;

/** Starts `runtime` through the public entry with FAST settings under `options`. */
export async function startCluster(runtime: RuntimeName, options: ClusterOptions = {}): Promise<LeaderlessCluster> {
  const merged: ClusterOptions = { ...FAST, ...options };
  const cluster: LeaderlessCluster = runtime === 'sim' ? await Cluster.start({ ...merged, runtime: 'sim', seed: SEED }) : await Cluster.start(merged);
  assert.equal(cluster.runtime, runtime);
  return cluster;
}

/** Runs `body` on a fresh cluster and stops it however the body ends. */
export async function withCluster(runtime: RuntimeName, options: ClusterOptions, body: (c: LeaderlessCluster) => Promise<void>): Promise<void> {
  const cluster = await startCluster(runtime, options);
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

const rings = new WeakMap<LeaderlessCluster, Ring>();

/** The key's primaries, in preference-list order (the first coordinates its writes), from the cluster's config. */
export function primaries(cluster: LeaderlessCluster, key: string): number[] {
  let ring = rings.get(cluster);
  if (ring === undefined) {
    const c = cluster.config;
    ring = new Ring({ nodes: c.nodes, vnodes: c.vnodes, replication: c.replication });
    rings.set(cluster, ring);
  }
  return [...ring.preferenceList(hash32(keyId(key)))];
}

/** The first key `${prefix}${i}` whose primaries satisfy `want`. */
export function keyWhere(cluster: LeaderlessCluster, prefix: string, want: (primaries: number[]) => boolean): string {
  for (let i = 0; i < 100_000; i++) {
    const key = `${prefix}${i}`;
    if (want(primaries(cluster, key))) return key;
  }
  throw new Error(`no key ${prefix}N has primaries that fit`);
}

/** The nodes 0..n-1 of the cluster. */
export function allNodes(cluster: LeaderlessCluster): number[] {
  return cluster.config.nodes.map((n) => n.id);
}

/** Waits in the runtime's time (cluster.sleep) until `cond` holds; fails naming `what` after timeoutMs of it. */
export async function until(cluster: LeaderlessCluster, what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = cluster.nowMs;
  while (!cond()) {
    if (cluster.nowMs - start > timeoutMs) assert.fail(`never happened within ${timeoutMs} ms (${cluster.runtime}): ${what}`);
    await cluster.sleep(5);
  }
}

export type Outcome = { ok: true; result: PutResult } | { ok: false; code: string; message: string };

/** How a put ended: its result, or the code and message of the LeaderlessError it failed with (anything else fails). */
export async function putOutcome(client: LeaderlessClient, key: string, value: Value, options?: PutOptions): Promise<Outcome> {
  try {
    return { ok: true, result: await client.put(key, value, options) };
  } catch (e) {
    assert.ok(e instanceof LeaderlessError, `expected a LeaderlessError, got ${String(e)}`);
    return { ok: false, code: e.code, message: e.message };
  }
}

/**
 * Puts until one is acknowledged (at most `attempts` tries): a client learns that a coordinator is cut off only from a
 * request it left unanswered, so the first write after a fault may fail where the next one goes elsewhere.
 */
export async function putUntilAcked(client: LeaderlessClient, key: string, value: Value, options: PutOptions, attempts = 5): Promise<PutResult> {
  const failures: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const o = await putOutcome(client, key, value, options);
    if (o.ok) return o.result;
    failures.push(`${o.code}: ${o.message}`);
  }
  assert.fail(`put ${key}=${String(value)} ${JSON.stringify(options)} never acknowledged in ${attempts} tries:\n${failures.join('\n')}`);
}

/** The values a replica holds for a key, sorted (undefined: nothing), for comparing replicas. */
export function heldBy(cluster: LeaderlessCluster, node: number, key: string): string[] | undefined {
  const i = cluster.inspect(node, key);
  return i === undefined ? undefined : i.values.map(String).sort();
}

/** The elements of a set-valued key (siblings unioned), as written by addElement. */
export function elementsOf(values: Value[]): Set<string> {
  return new Set(values.flatMap((v) => String(v).split(',').filter(Boolean)));
}

export interface ArmedWait {
  /** the event an on() listener saw (undefined: none), and a complaint when waitFor did not settle with it */
  wait(): Promise<{ seen: NodeEvent | undefined; problem: string | undefined }>;
}

/**
 * cluster.waitFor, armed before the fault that causes the event, with a guard: a cluster.sleep of timeoutMs + 100 (in
 * the runtime's time) bounds the wait, so a waitFor that never settles fails the scenario instead of hanging it. An
 * on() listener watches the same event, to tell "never emitted" from "emitted, but waitFor did not settle".
 */
export function armWaitFor(cluster: LeaderlessCluster, event: ClusterEvent, node: number, timeoutMs = 2000): ArmedWait {
  let seen: NodeEvent | undefined;
  const listener = (e: NodeEvent): void => {
    if (e.node === node && seen === undefined) seen = e;
  };
  cluster.on(event, listener);
  const waited = cluster.waitFor(event, node, timeoutMs).then(
    (e) => ({ e }),
    (err: unknown) => ({ err }),
  );
  const guard = cluster.sleep(timeoutMs + 100).then(
    () => 'guard' as const,
    () => 'guard' as const,
  );
  return {
    async wait() {
      const first = await Promise.race([waited, guard]);
      cluster.off(event, listener);
      if (first === 'guard') {
        const at = seen === undefined ? 'never emitted' : `emitted at ${seen.atMs.toFixed(0)} ms`;
        const problem = `waitFor('${event}', ${node}, ${timeoutMs}) had not settled at ${cluster.nowMs.toFixed(0)} ms; the event was ${at}`;
        return { seen, problem };
      }
      if ('err' in first) return { seen, problem: `waitFor('${event}', ${node}) failed: ${String(first.err)}` };
      return { seen: seen ?? first.e, problem: undefined };
    },
  };
}
