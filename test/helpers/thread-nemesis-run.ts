// The thread-runtime nemesis run for test/thread-nemesis.test.ts, in its own process: `node
// dist/test/helpers/thread-nemesis-run.js SEED` prints the verdict as one JSON line and exits, whatever handles a
// hung call left open (finding 10 can keep a process alive), so the test can kill a run that never ends.
import { hash32, keyId } from '../../actors/hash.js';
import { Prng } from '../../runtime/host/prng.js';
import { Cluster, type ClusterClient } from '../../runtime/index.js';
import { History, type KvClient } from './kv-history.js';
import { judge, type FinalKey, type Violation } from './kv-oracle.js';

const NODES = 5;
const KEYS = ['t0', 't1', 't2', 't3', 't4', 't5'];
const WORKLOAD_MS = 1500;
const TIMEOUT_MS = 300;
/** real time is noisy on a loaded 2-core machine: an operation may settle this long past its timeoutMs */
const SLACK_MS = 250;
const CONTROL_MS = 2500;
/**
 * settle()'s own bound: one that runs to it left hints or mailbox work behind. A handoff batch lost to a fault is sent
 * again after hints.handoffTimeoutMs (2 s by default), so the bound is that plus room to deliver.
 */
const SETTLE_MS = 4000;

interface Run {
  cluster: Cluster;
  history: History;
  faults: string[];
  going: boolean;
  extra: Violation[];
  slowCalls: Array<{ what: string; settled: () => boolean }>;
  nextValue: number;
}

/**
 * Waits for a control-plane call at most CONTROL_MS. One that took longer is checked again when the run ends: still
 * pending then, it never settled (unsettled); settled meanwhile, it was only slow (late: a loaded machine can do that).
 */
async function bounded<T>(run: Run, what: string, p: Promise<T>, limitMs = CONTROL_MS): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let settled = false;
  const watched = p.finally(() => (settled = true));
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), limitMs)));
  const r = await Promise.race([watched, late]);
  clearTimeout(timer);
  if (r === undefined && !settled) {
    watched.catch(() => undefined);
    run.slowCalls.push({ what, settled: () => settled });
  }
  return r;
}

function judgeSlowCalls(run: Run): Violation[] {
  return run.slowCalls.map((c) =>
    c.settled()
      ? { kind: 'late', key: '*', detail: `${c.what} took more than ${CONTROL_MS} ms (it settled later)` }
      : { kind: 'unsettled', key: '*', detail: `${c.what} never settled (still pending when the run ended)` },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function worker(run: Run, c: KvClient, name: string, rng: Prng): Promise<void> {
  let last: Awaited<ReturnType<History['write']>> | undefined;
  while (run.going) {
    await sleep(rng.uniform(0, 20));
    const key = KEYS[rng.int(KEYS.length)];
    const r = rng.float();
    if (r < 0.25) {
      await run.history.get(c, name, key, {}, 2);
      continue;
    }
    let from = r < 0.65 ? await run.history.get(c, name, key, {}, 2) : last?.key === key ? last : undefined;
    if (from !== undefined && from.outcome !== 'ok') from = undefined;
    if (!run.going) break;
    const del = from !== undefined && rng.chance(0.2);
    last = await run.history.write(c, name, key, del ? null : `${name}.${run.nextValue++}`, from, {});
  }
}

async function nemesis(run: Run, rng: Prng): Promise<void> {
  const f = run.cluster.faults;
  let wiped = false;
  const log = (s: string): void => void run.faults.push(s);
  while (run.going) {
    await sleep(rng.uniform(100, 300));
    const node = rng.int(NODES);
    const r = rng.float();
    if (r < 0.2) {
      const cut = 1 + rng.int(NODES - 1);
      const groups = [[...Array(cut).keys()], [...Array(NODES - cut).keys()].map((i) => i + cut)];
      f.partition(groups);
      log(`partition ${JSON.stringify(groups)}`);
    } else if (r < 0.35) {
      f.heal();
      log('heal');
    } else if (r < 0.5) {
      await bounded(run, `faults.kill(${node})`, f.kill(node));
      log(`kill ${node}`);
    } else if (r < 0.55 && !wiped) {
      wiped = true;
      await bounded(run, `faults.crash(${node}, wipe)`, f.crash(node, { wipe: true }));
      log(`crash ${node} wipe`);
    } else if (r < 0.65) {
      await bounded(run, `faults.pause(${node})`, f.pause(node));
      log(`pause ${node}`);
    } else if (r < 0.75) {
      await bounded(run, `faults.resume(${node})`, f.resume(node));
      log(`resume ${node}`);
    } else if (r < 0.85) {
      const ms = Math.round(rng.uniform(5, 60));
      f.delay({ from: '*', to: node, ms });
      log(`delay *>${node} ${ms} ms`);
    } else {
      const p = rng.uniform(0.05, 0.4);
      f.drop({ from: '*', to: node, probability: p });
      log(`drop *>${node} p=${p.toFixed(2)}`);
    }
  }
}

/** settle() with every fault cleared: running to its bound means hints or mailbox depth it never saw drain. */
async function settle(run: Run): Promise<void> {
  const r = await bounded(run, 'settle()', run.cluster.settle(SETTLE_MS), SETTLE_MS + CONTROL_MS);
  if (r !== undefined && !r.settled) {
    run.extra.push({ kind: 'late', key: '*', detail: `settle(${SETTLE_MS}) ran to its bound after faults were cleared (${r.hintsPending} hints pending)` });
  }
}

async function heal(run: Run): Promise<FinalKey[]> {
  const { cluster } = run;
  await bounded(run, 'faults.clear()', cluster.faults.clear());
  for (let n = 0; n < NODES; n++) {
    for (let i = 0; i < 200 && cluster.nodeStatus(n) !== 'up'; i++) await sleep(25);
  }
  for (let round = 0; round < 2; round++) {
    await settle(run);
    await bounded(run, 'repair()', cluster.repair());
  }
  await settle(run);
  const finals: FinalKey[] = [];
  for (const key of KEYS) {
    const primaries = cluster.ring.preferenceList(hash32(keyId(key)));
    const holds = (node: number): FinalKey['primaries'][number] => {
      const h = cluster.inspect(node, key);
      return { node, held: h === undefined ? undefined : { values: h.values.map(String), context: h.context } };
    };
    const f: FinalKey = {
      key, values: null, primaries: primaries.map(holds),
      others: [...Array(NODES).keys()].filter((x) => !primaries.includes(x)).map(holds),
    };
    try {
      f.values = (await cluster.get(key, { consistency: 'ALL', readRepair: 'off', timeoutMs: 5000 })).values.map(String);
    } catch (e) {
      f.error = (e as Error).message;
    }
    finals.push(f);
  }
  return finals;
}

export async function runOnce(seed: number): Promise<{ violations: Violation[]; faults: string[]; ops: number }> {
  const rng = new Prng(seed);
  const cluster = await Cluster.start({
    nodes: NODES, replication: 3, read: 'QUORUM', write: 'QUORUM', timeoutMs: TIMEOUT_MS,
    sloppy: rng.chance(0.5), readFanout: rng.chance(0.5) ? 'all' : 'quorum',
    failureDetector: { sampleMs: 10, minStdDeviationMs: 10, threshold: 8 },
    restart: { delayMs: 20, maxRestarts: 100, withinMs: 10_000 },
    hintAfterMs: 50, readRetryMs: 50,
  });
  const t0 = performance.now();
  const run: Run = { cluster, history: new History(() => performance.now() - t0, TIMEOUT_MS), faults: [], going: true, extra: [], slowCalls: [], nextValue: 0 };
  try {
    const clients: Array<[KvClient, string]> = [[cluster, 'main']];
    for (const near of [0, NODES - 1, 2]) clients.push([(await cluster.client({ near })) as ClusterClient, `near${near}`]);
    const work = clients.map(([c, name]) => worker(run, c, name, rng.fork()));
    await Promise.all([sleep(WORKLOAD_MS).then(() => (run.going = false)), nemesis(run, rng.fork())]);
    await bounded(run, 'the workload', Promise.all(work));
    const finals = await heal(run);
    const calmFromMs = performance.now() - t0;
    for (let i = 0; i < 4; i++) {
      await run.history.write(cluster, 'calm', `calm${i}`, `calm.${i}`, undefined, { consistency: 'ALL' });
      await run.history.get(cluster, 'calm', `calm${i}`, {}, 2);
    }
    const endMs = performance.now() - t0;
    const violations = judge({ ops: run.history.ops, finals, endMs, slackMs: SLACK_MS, replication: 3, calmFromMs });
    return { violations: [...judgeSlowCalls(run), ...run.extra, ...violations], faults: run.faults, ops: run.history.ops.length };
  } finally {
    await bounded(run, 'stop()', cluster.stop());
  }
}

if (process.argv[1]?.endsWith('thread-nemesis-run.js')) {
  const r = await runOnce(Number(process.argv[2] ?? 7));
  process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
}
