// `leaderless pbs --validate`: does the simulator predict the thread runtime? As Bailis et al. validated PBS against
// a real cluster with injected delays, this runs the thread runtime with exponential delays injected on every link
// into a replica (faults.delay with a distribution, sampled per message in the sending thread) and the simulator
// with the same distributions on the same links, measures t-visibility the same way in both (bench/pbs/visibility.ts,
// through the cluster interface only), and prints both curves and their RMSE in percentage points.
//
// t starts at the same point in both: when the client's put resolves (its ack), read from the cluster's own clock by
// the very same code; each read is issued at that point + t.
//
// What differs, and what is done about it (said in the output too). Nothing is fitted to the curves compared: the
// thread runtime's costs are measured in a calibration phase on the thread cluster before the measured trials (after
// a warm-up), except the reads' lateness, timed read by read in the measured run:
//   - a thread link holds a message for an injected delay with a Node timer (runtime/threads/link-delay.ts): a draw
//     under 0.5 ms goes at once, any other sets a timer, which fires on an integer-ms clock (often a little early,
//     the loop's cached time being older than the call) or late behind a busy event loop, in the thread that sends
//     it: the main thread (which carries every client) for puts and gets, the replica's worker for replicates and
//     acks. Calibrated: the lateness of timers of lengths drawn from the injected law, set beside calibration trials
//     with the delays on, on the main thread and in a worker of its own (bench/pbs/timer-worker.ts; a worker's are
//     less late: +0.01 against +0.28 ms mean in one measurement, the main thread's tail much longer). Modelled: every
//     simulated delay is a draw from the law, 0 under 0.5 ms, else plus a lateness drawn from the sending thread's
//     (a Monte Carlo convolution as an empirical distribution, bench/pbs/empirical.ts).
//   - every message costs its batching to the end of the event loop's turn, postMessage and decoding (after its timer,
//     for a delayed one). Calibrated: round trips of puts (W=1) one at a time with no delay, from clients opened and
//     warmed first, halved: a message to or from the main thread (put, put reply, get, get reply); and half the
//     difference between such round trips at W=3 and at W=1, quantile by quantile: a message between two workers
//     (replicate, ack), far cheaper (medians of 0.03 ms at most against 0.13-0.21). Modelled: each simulated message
//     takes a draw from its kind's (an empirical distribution, not a constant). Modelling the workers' messages at
//     the main thread's cost, and their timers as phase-locked ones, was what left R=1 W=1 threads 1-2 points more
//     consistent than the model at t = 0-5 ms (a bias over seven runs; the W=2 put's median 1.25 ms slower).
//   - the reads at commit + t are issued late by the timer and the busy event loop. Measured read by read in the
//     thread run; each simulated read is issued later by a draw from those (the mean alone would overstate P).
//   - not modelled: that a replica's worker is busier than the bare worker its timers are measured in; the main
//     thread's queue (a reply that arrives while it is busy waits, and replies from several replicas waiting together
//     are taken port by port, not necessarily in the order they arrived); Node's integer-ms timer clock, shared by every thread
//     (timers set near the same time fire on the same ms boundary, so their order is a race of own times); that
//     replicas and clients share 2 cores, and load that changes between the calibration and the measured run. Averaged
//     over six runs, R=1 W=1 shows no bias left (within a point at every t, of both signs); a run's RMSE moves with
//     the machine's load. See the README's Measured section.
// The raw simulator (same distributions, nothing else) is printed beside the modelled one.
import { Cluster, InvalidArgumentError, Prng, SimCluster, hash32, type ClusterOptions, type Distribution } from '../../runtime/index.js';
import { PBS_N, checkCount, checkNrw, type RwConfig } from './profiles.js';
import { measureVisibility, type VisibilityCounts } from './visibility.js';
import { exponentialDraw, measureTimerLateness, measureWorkerTimerLateness, messageTime, quantiles } from './empirical.js';

/** What the calibration phase measured on the thread runtime, before the measured trials (see the top). */
export interface Calibration {
  /** one message's own time, ms: half of each round trip of a put (W=1), one at a time, with no injected delay */
  hopMs: number[];
  /**
   * a message's own time between two replicas' workers (replicate, ack), ms: half the difference between the round
   * trips of puts at W=3 and at W=1 (quantile by quantile), both undelayed: a W=3 put adds a replicate and an ack
   */
  workerHopMs: number[];
  /** how late a main-thread timer of a length drawn from the injected law fired, ms (negative: early), beside delayed trials */
  timerLateMs: number[];
  /** the same, for a timer in a worker thread of its own (as a replica's), measured at the same time */
  workerTimerLateMs: number[];
}

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
  trials: 4000,
  simTrials: 12000,
  meanMs: 5,
  tMs: [0, 1, 2, 3, 5, 7.5, 10, 15],
  seed: 1,
  concurrency: 8,
};
export const MAX_VALIDATE_TRIALS = 20_000;
export const MAX_VALIDATE_SIM_TRIALS = 200_000;
/**
 * The calibration phase's sizes for `trials` measured trials a config: trials (R=1 W=1) to warm up, and again, delays
 * on, beside the timers measured; the round trips; the timers, 2 in flight at once (more would load the main thread
 * more than the measured run does).
 */
export function calibrationSizes(trials: number): { trials: number; roundTrips: number; timers: number; timerLoops: number } {
  const clamp = (x: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Math.round(x)));
  return { trials: clamp(trials / 4, 20, 600), roundTrips: clamp(trials / 5, 20, 400), timers: clamp(trials / 2, 50, 1000), timerLoops: 2 };
}

/** Round trips of puts (at `w`) one at a time from the client beside the coordinator, halved: one message's own time. */
async function measureRoundTrips(cluster: Cluster, count: number, w = 1): Promise<number[]> {
  // a client beside each replica, opened (and warmed by one put) before any round trip is timed
  const clients = await Promise.all(cluster.config.nodes.map((_, node) => cluster.client({ near: node })));
  const out: number[] = [];
  try {
    for (const [node, c] of clients.entries()) await c.put(`rt${w}:warm:${node}`, 'x', { w });
    for (let i = 0; i < count; i++) {
      const key = `rt${w}:${i}`;
      const c = clients[cluster.replicasOf(key)[0]];
      const t0 = performance.now();
      await c.put(key, 'x', { w });
      out.push((performance.now() - t0) / 2);
    }
  } finally {
    for (const c of clients) c.close();
  }
  return out;
}

export interface ValidateCell extends RwConfig {
  tMs: number[];
  threads: number[];
  sim: number[];
  simModelled: number[];
  /** mean ms the thread run's reads were issued after commit + t */
  readLateMs: number[];
  /** mean and median put latency, ms: threads, simulator raw, simulator modelled */
  putMs: { threads: number; sim: number; simModelled: number };
  putMedianMs: { threads: number; sim: number; simModelled: number };
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
  cells: ValidateCell[];
  /** over every cell's points */
  rmsePts: { sim: number; simModelled: number; noise: number };
  modelled: string[];
  notModelled: string[];
  simOnly: boolean;
  /** what the calibration phase measured (null: simulator only) */
  calibration: CalibrationSummary | null;
}

export interface CalibrationSummary {
  /** the own time of a message: half a put round trip, quantiles 10/50/90/99%, ms */
  messageMs: number[];
  /** the own time of a message between two workers, the same quantiles */
  workerMessageMs: number[];
  /** how late a main-thread timer fired, quantiles 10/50/90/99%, ms (negative: early) */
  timerLateMs: number[];
  /** how late a worker thread's timer fired, the same quantiles */
  workerTimerLateMs: number[];
  roundTrips: number;
  timers: number;
}

/** Sorted a minus sorted b, quantile by quantile (as many as the shorter), halved and at least 0. */
export function quantileDifference(a: readonly number[], b: readonly number[]): number[] {
  const [x, y] = [[...a].sort((p, q) => p - q), [...b].sort((p, q) => p - q)];
  const n = Math.min(x.length, y.length);
  if (n === 0) throw new InvalidArgumentError('quantileDifference needs samples on both sides');
  const at = (s: number[], i: number): number => s[Math.floor((i * s.length) / n)];
  return Array.from({ length: n }, (_, i) => Math.max(0, (at(x, i) - at(y, i)) / 2));
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

const MODELLED = [
  'the same distribution on the same links in both: every message into a replica (puts, replication, acks, gets); ' +
    'messages to clients (put and get replies) take no injected delay in either runtime',
  't from the same point in both: the client\'s put resolving (its ack), on the cluster\'s own clock, the same code',
  "the thread link's timer: a delay draw under 0.5 ms goes at once, any other is held by a Node timer, in the thread " +
    'that sends it, that fires early or late; calibrated: the lateness of timers of lengths drawn from the law, beside ' +
    'calibration trials with the delays on, on the main thread (puts, gets: clients) and in a worker (replicates, acks: ' +
    "replicas); simulated: each draw plus a lateness drawn from the sending thread's (an empirical distribution)",
  'the own time of every message (batching to the end of the turn, postMessage, decoding): calibrated as half the ' +
    'round trip of puts one at a time with no delay (clients warmed first) for a message to or from the main thread ' +
    '(put, put reply, get, get reply), and as half the difference between such round trips at W=3 and W=1 for one ' +
    'between two workers (replicate, ack); simulated: each message takes a draw from its kind\'s',
  "reads issued late: each simulated read at t issued later by a draw from the thread run's own lateness at that t " +
    '(every read of it; its mean alone would overstate P, the curve being concave)',
];
const NOT_MODELLED = [
  "that a replica's worker is busier than the bare worker its timers are measured in",
  "the main thread's queue: a reply arriving while it is busy waits, and replies waiting together are taken port by " +
    'port, not necessarily in arrival order',
  "Node's integer-ms timer clock, shared by every thread: timers set close together fire on the same ms boundary",
  'load that changes between the calibration and the measured trials (other work on the same 2 cores): the RMSE moves ' +
    'with it from run to run',
];

/** Runs the validation, printing as it goes (a table, or the report as JSON at the end). */
export async function runValidate(options: ValidateOptions, out: NodeJS.WritableStream, json: boolean): Promise<ValidateReport> {
  const o = checkValidateOptions(options);
  const dist: Distribution = { kind: 'exponential', rate: 1 / o.meanMs };
  const report: ValidateReport = {
    n: PBS_N, meanMs: o.meanMs, distribution: dist, trials: o.trials, simTrials: o.simTrials, seed: o.seed,
    cells: [], rmsePts: { sim: 0, simModelled: 0, noise: 0 },
    modelled: [], notModelled: [], simOnly: o.simOnly === true, calibration: null,
  };
  const threadRuns = o.simOnly ? null : await runThreads(o, dist);
  if (threadRuns !== null) report.calibration = calibrationSummary(threadRuns.calibration);
  for (const [k, rw] of o.configs.entries()) {
    const cell = await runSimCell(o, rw, dist, threadRuns?.runs[k], threadRuns?.calibration);
    report.cells.push(cell);
    if (!json) out.write(validateCellText(cell));
  }
  const all = (f: (c: ValidateCell) => number[]): number[] => report.cells.flatMap(f);
  report.rmsePts = {
    sim: rmsePoints(all((c) => c.threads), all((c) => c.sim)),
    simModelled: rmsePoints(all((c) => c.threads), all((c) => c.simModelled)),
    noise: noisePoints(all((c) => c.threads), o.trials, o.simTrials),
  };
  report.modelled = MODELLED;
  report.notModelled = NOT_MODELLED;
  out.write(json ? `${JSON.stringify(report, null, 2)}\n` : validateSummaryText(report));
  return report;
}

async function runThreads(o: ValidateOptions, dist: Distribution): Promise<{ runs: VisibilityCounts[]; calibration: Calibration }> {
  const size = calibrationSizes(o.trials);
  const cluster = await Cluster.start(validateClusterOptions(o.trials * o.configs.length + size.trials * 2 + size.roundTrips * 2 + PBS_N * 2));
  try {
    // warm up (JIT, first batches) so that neither the calibration nor the first R/W config runs on a cold runtime
    const bare = { r: 1, w: 1, trials: size.trials, tMs: o.tMs, concurrency: o.concurrency, seed: o.seed };
    await measureVisibility(cluster, { ...bare, keyPrefix: 'warm:' });
    const hopMs = await measureRoundTrips(cluster, size.roundTrips);
    const workerHopMs = quantileDifference(await measureRoundTrips(cluster, size.roundTrips, PBS_N), hopMs);
    cluster.faults.delay({ ms: dist });
    // the timers the injected delays take, measured beside trials with those delays (load like the measured run's)
    const draw = exponentialDraw(new Prng(hash32('validate/timers', o.seed)), o.meanMs);
    const [timerLateMs, workerTimerLateMs] = await Promise.all([
      measureTimerLateness(draw, size.timers, size.timerLoops),
      measureWorkerTimerLateness(o.meanMs, hash32('validate/worker-timers', o.seed), size.timers, size.timerLoops),
      measureVisibility(cluster, { ...bare, keyPrefix: 'cal:' }),
    ]);
    const runs: VisibilityCounts[] = [];
    for (const rw of o.configs) {
      runs.push(await measureVisibility(cluster, { ...rw, trials: o.trials, tMs: o.tMs, concurrency: o.concurrency, keyPrefix: `t${rw.r}${rw.w}:`, seed: o.seed }));
    }
    return { runs, calibration: { hopMs, workerHopMs, timerLateMs, workerTimerLateMs } };
  } finally {
    await cluster.stop();
  }
}

/** The simulator, raw and modelled, for one R/W config; `threads` undefined (simOnly): the raw run stands in for it. */
async function runSimCell(
  o: ValidateOptions, rw: RwConfig, dist: Distribution, threads: VisibilityCounts | undefined, cal: Calibration | undefined,
): Promise<ValidateCell> {
  const seed = hash32(`validate/${rw.r}/${rw.w}`, o.seed);
  const sim = async (latencyByType: LatencyByType, delay: Distribution | null, lateSamplesMs: number[][] | undefined): Promise<VisibilityCounts> => {
    const cluster = SimCluster.create({ ...validateClusterOptions(o.simTrials), seed, latency: { kind: 'constant', ms: 0 }, latencyByType });
    try {
      if (delay !== null) cluster.faults.delay({ ms: delay });
      // lateness drawn from the thread run's own, read by read: a mean would overstate P (the curve is concave)
      const draws = new Prng((seed ^ 0x2545f491) >>> 0);
      const lateness = lateSamplesMs === undefined ? undefined : (j: number): number => draws.pick(lateSamplesMs[j]);
      return await measureVisibility(cluster, { ...rw, trials: o.simTrials, tMs: o.tMs, lateness, concurrency: 16, keyPrefix: 's:', seed });
    } finally {
      await cluster.stop();
    }
  };
  const raw = await sim({}, dist, undefined);
  const t = threads ?? raw;
  const model = cal === undefined ? { latencyByType: {}, delay: dist } : threadModel(o, cal);
  const modelled = await sim(model.latencyByType, model.delay, threads?.lateSamplesMs);
  const p = (v: VisibilityCounts): number[] => v.consistent.map((c) => c / v.trials);
  return {
    ...rw, tMs: [...o.tMs], threads: p(t), sim: p(raw), simModelled: p(modelled), readLateMs: t.lateMs,
    putMs: { threads: t.putMs, sim: raw.putMs, simModelled: modelled.putMs },
    putMedianMs: { threads: t.putMedianMs, sim: raw.putMedianMs, simModelled: modelled.putMedianMs },
    rmsePts: { sim: rmsePoints(p(t), p(raw)), simModelled: rmsePoints(p(t), p(modelled)), noise: noisePoints(p(t), t.trials, o.simTrials) },
    wallMs: { threads: threads?.wallMs ?? 0, sim: raw.wallMs + modelled.wallMs },
  };
}

/** the simulator's latencyByType, for the kinds of message modelled here */
type LatencyByType = Partial<Record<'put' | 'put-reply' | 'replicate' | 'replicate-ack' | 'get' | 'get-reply', Distribution>>;

/**
 * The thread runtime's own costs as the simulator takes them, from the calibration (see the top): each kind of message
 * takes its whole time from latencyByType (no delay fault): its own time, plus for a message into a replica the
 * injected delay as the sending thread's timer holds it. Clients send from the main thread (put, get), replicas from
 * their workers (replicate, ack): each with its own thread's measured lateness. Replies to clients take no delay.
 */
function threadModel(o: ValidateOptions, cal: Calibration): { latencyByType: LatencyByType; delay: null } {
  const rng = new Prng(hash32('validate/realized', o.seed));
  const draw = exponentialDraw(rng, o.meanMs);
  const fromMain = messageTime(cal.hopMs, draw, cal.timerLateMs, rng);
  const fromWorker = messageTime(cal.workerHopMs, draw, cal.workerTimerLateMs, rng);
  const reply = messageTime(cal.hopMs, null, [], rng);
  return {
    latencyByType: { put: fromMain, get: fromMain, replicate: fromWorker, 'replicate-ack': fromWorker, 'put-reply': reply, 'get-reply': reply },
    delay: null,
  };
}

/** The calibration as the report shows it: quantiles (10, 50, 90, 99%) of what was measured, ms. */
export function calibrationSummary(cal: Calibration): CalibrationSummary {
  const fs = [0.1, 0.5, 0.9, 0.99];
  return {
    messageMs: quantiles(cal.hopMs, fs), workerMessageMs: quantiles(cal.workerHopMs, fs), timerLateMs: quantiles(cal.timerLateMs, fs), workerTimerLateMs: quantiles(cal.workerTimerLateMs, fs),
    roundTrips: cal.hopMs.length, timers: cal.timerLateMs.length,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(6)}%`;

export function validateCellText(c: ValidateCell): string {
  const lines = [`R=${c.r} W=${c.w}       t ms   threads       sim   sim+overheads   read late ms`];
  c.tMs.forEach((t, j) => {
    lines.push(`  ${String(t).padStart(16)}   ${pct(c.threads[j])}   ${pct(c.sim[j])}   ${pct(c.simModelled[j])}        ${c.readLateMs[j].toFixed(2).padStart(7)}`);
  });
  lines.push(
    `  put ms mean/median: threads ${c.putMs.threads.toFixed(2)}/${c.putMedianMs.threads.toFixed(2)}, sim ${c.putMs.sim.toFixed(2)}/${c.putMedianMs.sim.toFixed(2)}, ` +
      `sim+overheads ${c.putMs.simModelled.toFixed(2)}/${c.putMedianMs.simModelled.toFixed(2)}; ` +
      `wall s: threads ${(c.wallMs.threads / 1000).toFixed(1)}, sim ${(c.wallMs.sim / 1000).toFixed(1)}`,
    `  RMSE vs threads: sim ${c.rmsePts.sim.toFixed(2)} pts, sim+overheads ${c.rmsePts.simModelled.toFixed(2)} pts (binomial noise alone ~${c.rmsePts.noise.toFixed(2)})`,
    '',
  );
  return `${lines.join('\n')}\n`;
}

export function validateSummaryText(r: ValidateReport): string {
  const lines = [
    `== validation: N=${r.n}, every link into a replica delayed by an exponential of mean ${r.meanMs} ms; ${r.trials} thread trials, ${r.simTrials} simulated, per R/W; seed ${r.seed}`,
    r.simOnly ? '   (simulator only: the "threads" column is the raw simulator)' : '',
    `RMSE over every point: sim ${r.rmsePts.sim.toFixed(2)} pts, sim+overheads ${r.rmsePts.simModelled.toFixed(2)} pts (binomial noise alone ~${r.rmsePts.noise.toFixed(2)} pts)`,
    r.calibration === null
      ? ''
      : `calibration (before the measured trials; quantiles 10/50/90/99%): a message's own time ms ${r.calibration.messageMs.map((x) => x.toFixed(2)).join('/')} ` +
        `(${r.calibration.roundTrips} round trips), between workers ${r.calibration.workerMessageMs.map((x) => x.toFixed(2)).join('/')}, timer lateness ms: main thread ${r.calibration.timerLateMs.map((x) => x.toFixed(2)).join('/')}, ` +
        `a worker ${r.calibration.workerTimerLateMs.map((x) => x.toFixed(2)).join('/')} (${r.calibration.timers} timers each)`,
    'modelled:',
    ...r.modelled.map((m) => `  - ${m}`),
    'not modelled:',
    ...r.notModelled.map((m) => `  - ${m}`),
  ].filter((l) => l !== '');
  return `${lines.join('\n')}\n`;
}
