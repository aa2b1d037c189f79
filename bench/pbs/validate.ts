// `leaderless pbs --validate`: does the simulator predict the thread runtime? As Bailis et al. validated PBS against
// a real cluster with injected delays, this runs the thread runtime with exponential delays injected on every link
// into a replica (faults.delay with a distribution, sampled per message in the sending thread) and the simulator
// with the same distributions on the same links, measures t-visibility the same way in both (bench/pbs/visibility.ts,
// through the cluster interface only), and prints both curves and their RMSE in percentage points.
//
// What differs, and what is done about it (said in the output too):
//   - threads spend real time handling and batching each message (the simulator: none). Measured before the
//     delays go in as half the median round trip of a W=1 put; modelled as a constant latency on every message.
//   - Node fires a timer no sooner than 1 ms and on a ms clock, so an injected delay d takes about max(d, 1) plus up
//     to a ms. Measured on this thread as the mean overshoot of timers drawn from the same distribution; modelled as
//     a shift of the injected distribution.
//   - the reads at commit + t are late by the timer's overshoot too. Measured per t in the thread run; modelled by
//     issuing the simulator's reads that much later.
//   - not modelled: load-dependent queueing (GC, the 2 cores shared with other work), the overshoot's variance.
// The raw simulator (same distributions, nothing else) is printed beside the modelled one.
import { Cluster, InvalidArgumentError, SimCluster, hash32, type ClusterOptions, type Distribution, type LeaderlessCluster } from '../../runtime/index.js';
import { PBS_N, checkCount, checkNrw, type RwConfig } from './profiles.js';
import { measureVisibility, type VisibilityCounts } from './visibility.js';

export interface ValidateOptions {
  configs: RwConfig[];
  /** trials per R/W config on the thread runtime, and on the simulator */
  trials: number;
  simTrials: number;
  /** the mean of every injected exponential delay, ms */
  meanMs: number;
  tMs: number[];
  seed: number;
  /** trials in flight at once */
  concurrency: number;
  /** measure the simulator only (the thread runtime's curve is then the raw simulator's own): for tests */
  simOnly?: boolean;
}

export const VALIDATE_DEFAULTS: Readonly<ValidateOptions> = {
  configs: [{ r: 1, w: 1 }, { r: 1, w: 2 }, { r: 2, w: 1 }],
  trials: 1500,
  simTrials: 6000,
  meanMs: 5,
  tMs: [0, 1, 2, 3, 5, 7.5, 10, 15, 20],
  seed: 1,
  concurrency: 12,
};
export const MAX_VALIDATE_TRIALS = 20_000;
export const MAX_VALIDATE_SIM_TRIALS = 200_000;

export interface Overheads {
  /** ms of handling and batching per message hop in threads (half the median W=1 put round trip, no delay) */
  hopMs: number;
  /** mean ms a timer drawn from the injected distribution fired late, on the main thread, idle */
  timerOvershootMs: number;
  /** samples behind each */
  samples: number;
}

export interface ValidateCell extends RwConfig {
  tMs: number[];
  threads: number[];
  sim: number[];
  simModelled: number[];
  /** mean ms the thread run's reads were issued after commit + t */
  readLateMs: number[];
  /** mean put latency, ms: threads, simulator raw, simulator modelled */
  putMs: { threads: number; sim: number; simModelled: number };
  /** RMSE against the thread curve, percentage points; noise = what binomial noise alone would give */
  rmsePts: { sim: number; simModelled: number; noise: number };
  wallMs: { threads: number; sim: number };
}

export interface ValidateReport {
  n: number;
  meanMs: number;
  distribution: Distribution;
  trials: number;
  simTrials: number;
  seed: number;
  overheads: Overheads;
  cells: ValidateCell[];
  /** over every cell's points */
  rmsePts: { sim: number; simModelled: number; noise: number };
  modelled: string[];
  notModelled: string[];
  simOnly: boolean;
}

/** Root mean square of a - b over the points, in percentage points (a, b probabilities). */
export function rmsePoints(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) {
    throw new InvalidArgumentError(`rmsePoints needs two curves of the same, non-zero length; got ${a.length} and ${b.length}`);
  }
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length) * 100;
}

/** The RMSE (points) two independent binomial estimates of the same p would show: sqrt(mean p(1-p)(1/n1 + 1/n2)). */
export function noisePoints(p: readonly number[], n1: number, n2: number): number {
  let s = 0;
  for (const x of p) s += x * (1 - x) * (1 / n1 + 1 / n2);
  return Math.sqrt(s / p.length) * 100;
}

export function checkValidateOptions(o: ValidateOptions): ValidateOptions {
  for (const c of o.configs) checkNrw(PBS_N, c.r, c.w);
  if (o.configs.length === 0) throw new InvalidArgumentError('--validate needs at least one R/W pair');
  checkCount(o.trials, 'trials', MAX_VALIDATE_TRIALS);
  checkCount(o.simTrials, 'sim trials', MAX_VALIDATE_SIM_TRIALS);
  checkCount(o.concurrency, 'concurrency', 256);
  if (!(o.meanMs >= 0.1 && o.meanMs <= 1000)) throw new InvalidArgumentError(`--mean-ms must be from 0.1 to 1000; got ${String(o.meanMs)}`);
  if (o.tMs.length === 0 || o.tMs.some((t, i) => !(t >= 0 && t <= 10_000) || (i > 0 && t <= o.tMs[i - 1]))) {
    throw new InvalidArgumentError(`the t grid must be ascending ms from 0 to 10000; got ${o.tMs.join(',')}`);
  }
  return o;
}

/** The cluster both runtimes run: N=3 strict quorums, reads to all N answered by the first R, nothing routed around. */
export function validateClusterOptions(keys: number): ClusterOptions {
  const far = 3_600_000;
  return {
    nodes: PBS_N, replication: PBS_N, sloppy: false, readRepair: 'off', readFanout: 'all', sharedMemoryReads: 'off',
    conflicts: 'siblings', timeoutMs: 600_000, coordinatorFailoverMs: far, readRetryMs: far, hintAfterMs: far,
    links: { timeoutMs: far, initialTimeoutMs: far }, antiEntropy: { intervalMs: 0 },
    storeMaxKeys: Math.max(1024, 1 << Math.ceil(Math.log2(keys + 1))),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The thread runtime's own costs, measured before any delay is injected (see the top of this file). */
export async function measureOverheads(cluster: LeaderlessCluster, dist: Distribution, samples: number): Promise<Overheads> {
  const key = 'validate:probe';
  const client = await cluster.client({ near: cluster.replicasOf(key)[0] });
  const rtt: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await client.put(`${key}:${i}`, 'x', { w: 1 });
    rtt.push(performance.now() - t0);
  }
  client.close();
  const meanMs = dist.kind === 'exponential' ? 1 / dist.rate : 1;
  let late = 0;
  await Promise.all(
    Array.from({ length: samples }, async () => {
      const d = -Math.log(1 - Math.random()) * meanMs;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, d));
      late += performance.now() - t0 - d;
    }),
  );
  return { hopMs: median(rtt) / 2, timerOvershootMs: late / samples, samples };
}

/** Runs the validation, printing as it goes (a table, or the report as JSON at the end). */
export async function runValidate(options: ValidateOptions, out: NodeJS.WritableStream, json: boolean): Promise<ValidateReport> {
  const o = checkValidateOptions(options);
  const dist: Distribution = { kind: 'exponential', rate: 1 / o.meanMs };
  const report: ValidateReport = {
    n: PBS_N, meanMs: o.meanMs, distribution: dist, trials: o.trials, simTrials: o.simTrials, seed: o.seed,
    overheads: { hopMs: 0, timerOvershootMs: 0, samples: 0 }, cells: [], rmsePts: { sim: 0, simModelled: 0, noise: 0 },
    modelled: [], notModelled: [], simOnly: o.simOnly === true,
  };
  const threadRuns = o.simOnly ? null : await runThreads(o, dist, report);
  for (const [k, rw] of o.configs.entries()) {
    const cell = await runSimCell(o, rw, dist, report.overheads, threadRuns?.[k]);
    report.cells.push(cell);
    if (!json) out.write(cellText(cell));
  }
  const all = (f: (c: ValidateCell) => number[]): number[] => report.cells.flatMap(f);
  report.rmsePts = {
    sim: rmsePoints(all((c) => c.threads), all((c) => c.sim)),
    simModelled: rmsePoints(all((c) => c.threads), all((c) => c.simModelled)),
    noise: noisePoints(all((c) => c.threads), o.trials, o.simTrials),
  };
  report.modelled = modelledText(report.overheads);
  report.notModelled = [
    'load-dependent queueing in threads (GC pauses, the cores shared with other work): not in the simulator',
    "the timer overshoot's spread (modelled as its mean only), and overshoot on worker threads (measured on the main one)",
    'messages to clients (put and get replies) take no injected delay in either runtime (link faults are into replicas)',
  ];
  out.write(json ? `${JSON.stringify(report, null, 2)}\n` : summaryText(report));
  return report;
}

async function runThreads(o: ValidateOptions, dist: Distribution, report: ValidateReport): Promise<VisibilityCounts[]> {
  const cluster = await Cluster.start(validateClusterOptions(o.trials * o.configs.length + 1000));
  try {
    report.overheads = await measureOverheads(cluster, dist, 200);
    cluster.faults.delay({ ms: dist });
    const runs: VisibilityCounts[] = [];
    for (const rw of o.configs) {
      runs.push(await measureVisibility(cluster, { ...rw, trials: o.trials, tMs: o.tMs, concurrency: o.concurrency, keyPrefix: `t${rw.r}${rw.w}:`, seed: o.seed }));
    }
    return runs;
  } finally {
    await cluster.stop();
  }
}

/** The simulator, raw and modelled, for one R/W config; `threads` undefined (simOnly): the raw run stands in for it. */
async function runSimCell(o: ValidateOptions, rw: RwConfig, dist: Distribution, oh: Overheads, threads: VisibilityCounts | undefined): Promise<ValidateCell> {
  const seed = hash32(`validate/${rw.r}/${rw.w}`, o.seed);
  const sim = async (hopMs: number, d: Distribution, shiftMs: readonly number[] | undefined): Promise<VisibilityCounts> => {
    const cluster = SimCluster.create({ ...validateClusterOptions(o.simTrials), seed, latency: { kind: 'constant', ms: hopMs } });
    try {
      cluster.faults.delay({ ms: d });
      return await measureVisibility(cluster, { ...rw, trials: o.simTrials, tMs: o.tMs, shiftMs, concurrency: 16, keyPrefix: 's:', seed });
    } finally {
      await cluster.stop();
    }
  };
  const raw = await sim(0, dist, undefined);
  const shifted: Distribution = oh.timerOvershootMs > 0 ? { kind: 'shifted', offsetMs: oh.timerOvershootMs, dist } : dist;
  const modelled = await sim(oh.hopMs, shifted, threads?.lateMs);
  const t = threads ?? raw;
  const p = (v: VisibilityCounts): number[] => v.consistent.map((c) => c / v.trials);
  return {
    ...rw, tMs: [...o.tMs], threads: p(t), sim: p(raw), simModelled: p(modelled), readLateMs: t.lateMs,
    putMs: { threads: t.putMs, sim: raw.putMs, simModelled: modelled.putMs },
    rmsePts: { sim: rmsePoints(p(t), p(raw)), simModelled: rmsePoints(p(t), p(modelled)), noise: noisePoints(p(t), t.trials, o.simTrials) },
    wallMs: { threads: threads?.wallMs ?? 0, sim: raw.wallMs + modelled.wallMs },
  };
}

function modelledText(oh: Overheads): string[] {
  return [
    'the same distribution on the same links in both: every message into a replica (puts, replication, acks, gets)',
    `thread handling per message hop: ${oh.hopMs.toFixed(3)} ms (half the median W=1 put round trip, no delay, ${oh.samples} puts), a constant latency on every simulated message`,
    `timer overshoot: ${oh.timerOvershootMs.toFixed(3)} ms mean (${oh.samples} timers drawn from the distribution, main thread, idle), added to every injected delay`,
    "read lateness: each simulated read issued later by the thread run's measured mean lateness at that t",
  ];
}

const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(6)}%`;

export function cellText(c: ValidateCell): string {
  const lines = [`R=${c.r} W=${c.w}       t ms   threads       sim   sim+overheads   read late ms`];
  c.tMs.forEach((t, j) => {
    lines.push(`  ${String(t).padStart(16)}   ${pct(c.threads[j])}   ${pct(c.sim[j])}   ${pct(c.simModelled[j])}        ${c.readLateMs[j].toFixed(2).padStart(7)}`);
  });
  lines.push(
    `  put ms: threads ${c.putMs.threads.toFixed(2)}, sim ${c.putMs.sim.toFixed(2)}, sim+overheads ${c.putMs.simModelled.toFixed(2)}`,
    `  RMSE vs threads: sim ${c.rmsePts.sim.toFixed(2)} pts, sim+overheads ${c.rmsePts.simModelled.toFixed(2)} pts (binomial noise alone ~${c.rmsePts.noise.toFixed(2)})`,
    '',
  );
  return `${lines.join('\n')}\n`;
}

export function summaryText(r: ValidateReport): string {
  const lines = [
    `== validation: N=${r.n}, every link into a replica delayed by an exponential of mean ${r.meanMs} ms; ${r.trials} thread trials, ${r.simTrials} simulated, per R/W; seed ${r.seed}`,
    r.simOnly ? '   (simulator only: the "threads" column is the raw simulator)' : '',
    `RMSE over every point: sim ${r.rmsePts.sim.toFixed(2)} pts, sim+overheads ${r.rmsePts.simModelled.toFixed(2)} pts (binomial noise alone ~${r.rmsePts.noise.toFixed(2)} pts)`,
    'modelled:',
    ...r.modelled.map((m) => `  - ${m}`),
    'not modelled:',
    ...r.notModelled.map((m) => `  - ${m}`),
  ].filter((l) => l !== '');
  return `${lines.join('\n')}\n`;
}
