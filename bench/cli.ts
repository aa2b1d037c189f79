#!/usr/bin/env node
// The `leaderless` command: `bench` (one configuration) and `sweep` (several, side by side). commander parses the
// command line (a well-kept library for what it does well); bad input gets one clear line on stderr and exit code 2,
// and nothing starts until every option, the quorum configuration and the fault schedule have been checked.
//
// Data layout: commander's option object -> a BenchSpec (bench/run.ts), checked with the cluster's own validation
// (runtime/config.ts resolveConfig) -> runBench / runSweep with the thread cluster as the factory -> report.ts.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError as CliArgError, Option } from 'commander';
import { InvalidArgumentError, InvalidConfigError, LeaderlessError } from '../actors/errors.js';
import { Cluster } from '../runtime/index.js';
import { resolveConfig, type ClusterOptions, type DatacenterSpec } from '../runtime/config.js';
import { checkFaults, parseFault, type FaultSpec } from './faults.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { ProgressBar } from './progress.js';
import { benchHtml, benchTable, sweepHtml, sweepTable, type SweepReport } from './report.js';
import { MAX_IN_FLIGHT, realClock, runBench, type BenchCluster, type BenchSpec, type RunDeps, type UpdateContext } from './run.js';
import { parseConsistencyList, parseRw, runSweep, specsFor } from './sweep.js';
import { DISTRIBUTIONS, MAX_KEYS, PRESETS, parseMix, type Distribution, type WorkloadSpec } from './workloads.js';
import { PBS_PROFILES, parsePbsOptions, runPbs, type PbsRawOptions } from './pbs.js';
import { SimCluster, type SimOptions } from '../runtime/sim/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The most operations a history keeps by default (about 100 bytes each). */
const DEFAULT_MAX_HISTORY = 2_000_000;

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new CliArgError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new CliArgError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface CommonOptions {
  nodes?: number;
  datacenters?: string;
  n: string;
  conflicts: 'siblings' | 'lww';
  sloppy: boolean;
  readRepair: 'async' | 'blocking' | 'off';
  vnodes?: number;
  timeoutMs: number;
  workload: string;
  mix?: string;
  distribution?: Distribution;
  keys: number;
  valueSize: number;
  inFlight: number;
  duration: number;
  ops?: number;
  seed: number;
  updateContext: UpdateContext;
  maxHistory: number;
  fault: string[];
  json?: string;
  html?: string;
  metricsPort?: number;
  progress: boolean;
}

interface BenchOptions extends CommonOptions {
  r?: string;
  w?: string;
  consistency?: string;
}

interface SweepOptions extends CommonOptions {
  rw?: string;
  consistency?: string;
}

const WORKLOAD_HELP =
  'YCSB workload: ' +
  Object.entries(PRESETS)
    .map(([k, p]) => `${k} ${p.description}`)
    .join('; ') +
  ' (E, short scans, is left out: the store has no range scans)';

function addCommonOptions(cmd: Command, defaultDurationS: number): Command {
  return cmd
    .addOption(new Option('--nodes <n>', 'replica actors, one worker thread each (default 5)').argParser(int('--nodes', 1, 256)))
    .addOption(new Option('--datacenters <list>', 'instead of --nodes: NAME:NODES[:RACKS],..., e.g. dc1:3,dc2:3'))
    .addOption(new Option('--n <n>', 'replication factor N, or per datacenter dc1:2,dc2:2').default('3'))
    .addOption(new Option('--conflicts <mode>', 'concurrent writes kept as siblings, or last-write-wins').choices(['siblings', 'lww']).default('siblings'))
    .addOption(new Option('--sloppy', 'sloppy quorums: hinted writes to fallbacks count toward W (default)').default(true))
    .addOption(new Option('--no-sloppy', 'strict quorums: only primaries count'))
    .addOption(new Option('--read-repair <mode>', 'read repair').choices(['async', 'blocking', 'off']).default('async'))
    .addOption(new Option('--vnodes <n>', 'virtual nodes per node on the ring (default 16)').argParser(int('--vnodes', 1, 4096)))
    .addOption(new Option('--timeout-ms <ms>', 'per-operation timeout').default(1000).argParser(int('--timeout-ms', 1, 3_600_000)))
    .addOption(new Option('--workload <letter>', WORKLOAD_HELP).default('A'))
    .addOption(new Option('--mix <shares>', 'custom mix instead of the workload\'s, e.g. read=0.7,update=0.3 (read, update, insert, rmw)'))
    .addOption(new Option('--distribution <name>', 'key distribution (default: the workload\'s)').choices([...DISTRIBUTIONS]))
    .addOption(new Option('--keys <n>', 'keys loaded before the run').default(10_000).argParser(int('--keys', 1, MAX_KEYS)))
    .addOption(new Option('--value-size <bytes>', 'bytes per value').default(100).argParser(int('--value-size', 0, 1 << 20)))
    .addOption(new Option('--in-flight <n>', 'operations in flight (closed loops)').default(64).argParser(int('--in-flight', 1, MAX_IN_FLIGHT)))
    .addOption(new Option('--duration <s>', 'seconds to run').default(defaultDurationS).argParser(num('--duration', 0.05, 86_400)))
    .addOption(new Option('--ops <n>', 'run this many operations instead of a duration').argParser(int('--ops', 1, 1e9)))
    .addOption(new Option('--seed <n>', 'seed of the workload').default(1).argParser(int('--seed', 0, 2 ** 31 - 1)))
    .addOption(new Option('--update-context <which>', 'context an update carries: from the last read of the key (default), the newest from a read or a put (last; a put\'s context covers the siblings its result lists), or none (blind)').choices(['read', 'last', 'none']).default('read'))
    .addOption(new Option('--max-history <n>', 'operations kept for the consistency oracle').default(DEFAULT_MAX_HISTORY).argParser(int('--max-history', 1, 50_000_000)))
    .addOption(new Option('--fault <spec>', 'a fault, repeatable: kill:2@3s, crash:2[:wipe]@3s, pause:2@1s-3s, partition:0,1/2,3,4@2s-5s, delay:*:50ms@1s-4s, drop:1:0.2@1s-4s').default([]).argParser(collect))
    .addOption(new Option('--json <file>', 'write everything measured, with the configuration and seed, as JSON'))
    .addOption(new Option('--html <file>', 'write a standalone HTML report with charts'))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:PORT/metrics while running (0: any free port)').argParser(int('--metrics-port', 0, 65535)))
    .addOption(new Option('--no-progress', 'no progress bar on stderr'));
}

export function program(): Command {
  const cmd = new Command('leaderless')
    .description('A Dynamo-style leaderless replicated key-value store: embed it, benchmark it, load-test quorums under faults.')
    .version(pkg.version, '-v, --version')
    .exitOverride()
    // commander puts "(Did you mean ...?)" on a line of its own: keep every error to one line
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(s.trimEnd().replace(/\n+/g, ' ') + '\n') });

  addCommonOptions(
    cmd.command('bench').description('run a workload against an embedded cluster and print throughput, latency and what the configuration gave: stale reads, conflicts, lost writes'),
    5,
  )
    .addOption(new Option('--r <level>', 'read consistency: ONE, TWO, QUORUM, ALL, ... or a number (default QUORUM)'))
    .addOption(new Option('--w <level>', 'write consistency: a level (ANY too) or a number (default QUORUM)'))
    .addOption(new Option('--consistency <level>', 'one level for both reads and writes'))
    .action(async (o: BenchOptions, command: Command) => {
      await bench(o, command);
    });

  addCommonOptions(
    cmd
      .command('sim')
      .description('the bench workload on the deterministic simulator: the same actors on virtual time over a seeded network; same seed, same run (its trace digest is printed); latencies and throughput are virtual'),
    5,
  )
    .addOption(new Option('--r <level>', 'read consistency (default QUORUM)'))
    .addOption(new Option('--w <level>', 'write consistency (default QUORUM)'))
    .addOption(new Option('--consistency <level>', 'one level for both reads and writes'))
    .addOption(new Option('--latency <profile>', 'one-way message latency: lan (uniform 0.5-1.5 ms) or a PBS profile (lnkd-ssd, lnkd-disk, ymmr)').choices(['lan', 'lnkd-ssd', 'lnkd-disk', 'ymmr']).default('lan'))
    .action(async (o: SimCliOptions, command: Command) => {
      await simCommand(o, command);
    });

  cmd
    .command('pbs')
    .description('probabilistically bounded staleness (Bailis et al., VLDB 2012) measured on the simulated cluster running the real protocol, beside the closed-form bound and WARS Monte Carlo models')
    .addOption(new Option('--profile <list>', 'comma list of lnkd-ssd, lnkd-disk, ymmr, wan, or all').default('all'))
    .addOption(new Option('--rw <list>', 'R/W pairs with N=3').default('1/1,1/2,2/1,2/2'))
    .addOption(new Option('--trials <n>', 'simulated trials per cell (up to 200000)').default('4000'))
    .addOption(new Option('--model-trials <n>', 'WARS Monte Carlo trials per cell, per model').default('100000'))
    .addOption(new Option('--seed <n>', 'seed').default('1'))
    .addOption(new Option('--t <list>', 'comma list of t values in ms (default: each profile\'s own grid)'))
    .addOption(new Option('--format <format>', 'output').choices(['table', 'json']).default('table'))
    .action(async (o: PbsRawOptions & { t?: string }) => {
      const raw: PbsRawOptions = { profile: o.profile, rw: o.rw, trials: o.trials, modelTrials: o.modelTrials, seed: o.seed, format: o.format };
      if (o.t !== undefined) raw.t = o.t;
      await runPbs(parsePbsOptions(raw), process.stdout);
    });

  addCommonOptions(
    cmd.command('sweep').description('run the same workload, seed and faults against several quorum configurations and compare them'),
    2,
  )
    .addOption(new Option('--rw <pairs>', 'R/W pairs, e.g. 1/1,2/2,1/3,3/1 (numbers or level names)'))
    .addOption(new Option('--consistency <levels>', 'levels, each for both reads and writes (default ONE,QUORUM,ALL)'))
    .action(async (o: SweepOptions, command: Command) => {
      await sweep(o, command);
    });

  return cmd;
}

// ------------------------------------------------------------------------------------------------ option -> spec

function usage(message: string): InvalidConfigError {
  return new InvalidConfigError(message);
}

function parseDatacenters(text: string): DatacenterSpec[] {
  return text.split(',').map((part) => {
    const m = /^([A-Za-z0-9_-]+):(\d+)(?::(\d+))?$/.exec(part.trim());
    if (m === null) throw usage(`--datacenters "${text}": write NAME:NODES[:RACKS],..., e.g. dc1:3,dc2:3`);
    return { name: m[1], nodes: Number(m[2]), ...(m[3] !== undefined ? { racks: Number(m[3]) } : {}) };
  });
}

function parseReplication(text: string, dcs: DatacenterSpec[] | undefined): ClusterOptions['replication'] {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    // one N for several datacenters means N in each
    return dcs !== undefined && dcs.length > 1 ? Object.fromEntries(dcs.map((d) => [d.name, n])) : n;
  }
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^([A-Za-z0-9_-]+):(\d+)$/.exec(part.trim());
    if (m === null) throw usage(`--n "${text}": write a number, or DC:N,... e.g. dc1:2,dc2:2`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

function workloadSpec(o: CommonOptions): WorkloadSpec {
  const name = o.workload.toUpperCase();
  if (name === 'E') throw usage('--workload E (short range scans) is left out: the store has no scans; use A, B, C, D or F');
  const preset = PRESETS[name];
  if (preset === undefined) throw usage(`--workload ${o.workload} is unknown; use A, B, C, D or F (or --mix)`);
  return {
    name: o.mix !== undefined ? 'custom' : name,
    mix: o.mix !== undefined ? parseMix(o.mix) : preset.mix,
    distribution: o.distribution ?? preset.distribution,
    keys: o.keys,
    valueSizeBytes: o.valueSize,
  };
}

function clusterOptions(o: CommonOptions, read: string | undefined, write: string | undefined): ClusterOptions {
  const dcs = o.datacenters !== undefined ? parseDatacenters(o.datacenters) : undefined;
  if (dcs !== undefined && o.nodes !== undefined) throw usage('give --nodes or --datacenters, not both');
  const c: ClusterOptions = {
    ...(dcs !== undefined ? { datacenters: dcs } : { nodes: o.nodes ?? 5 }),
    replication: parseReplication(o.n, dcs),
    read: read === undefined ? 'QUORUM' : /^\d+$/.test(read) ? Number(read) : (read.toUpperCase() as ClusterOptions['read']),
    write: write === undefined ? 'QUORUM' : /^\d+$/.test(write) ? Number(write) : (write.toUpperCase() as ClusterOptions['write']),
    conflicts: o.conflicts,
    sloppy: o.sloppy,
    readRepair: o.readRepair,
    timeoutMs: o.timeoutMs,
    ...(o.vnodes !== undefined ? { vnodes: o.vnodes } : {}),
  };
  // room for the keys (loaded and inserted) when a run asks for more than a replica's default store holds
  const keys = o.keys * 2;
  if (keys > 1 << 18) c.storeMaxKeys = Math.min(1 << 26, 2 ** Math.ceil(Math.log2(keys)));
  const bytes = o.keys * (o.valueSize + 128) * 2;
  if (bytes > 64 << 20) c.storeArenaBytes = Math.min(2 ** 31 - 1, 2 ** Math.ceil(Math.log2(bytes)));
  return c;
}

function baseSpec(o: CommonOptions, command: Command, cluster: ClusterOptions): BenchSpec {
  const durationGiven = command.getOptionValueSource('duration') === 'cli';
  if (o.ops !== undefined && durationGiven) throw usage('give --duration or --ops, not both');
  const workload = workloadSpec(o);
  const resolved = resolveConfig(cluster); // R > N, W > N, N > nodes, ... fail here with the cluster's own message
  const faults: FaultSpec[] = o.fault.map(parseFault);
  const durationMs = o.ops === undefined ? Math.round(o.duration * 1000) : undefined;
  checkFaults(faults, resolved.nodes.length, durationMs);
  return {
    label: `R=${cluster.read} W=${cluster.write}`,
    cluster,
    workload,
    inFlight: o.inFlight,
    ...(o.ops === undefined ? { durationMs } : { operations: o.ops }),
    seed: o.seed,
    faults,
    updateContext: o.updateContext,
    maxHistory: o.maxHistory,
  };
}

// ------------------------------------------------------------------------------------------------ commands

const threadCluster = async (options: ClusterOptions): Promise<BenchCluster> => (await Cluster.start(options)) as unknown as BenchCluster;

interface Session {
  deps: RunDeps;
  bar: ProgressBar | undefined;
  close(): Promise<void>;
}

async function session(o: CommonOptions): Promise<Session> {
  const bar = o.progress ? new ProgressBar(process.stderr) : undefined;
  let current: BenchCluster | undefined;
  let server: MetricsServer | undefined;
  if (o.metricsPort !== undefined) {
    server = await startMetricsServer(o.metricsPort, () => current);
    process.stderr.write(`metrics on http://127.0.0.1:${server.port}/metrics\n`);
  }
  const deps: RunDeps = {
    factory: threadCluster,
    clock: realClock(),
    ...(bar !== undefined ? { onProgress: (p) => bar.update(p) } : {}),
    onCluster: (c) => {
      current = c;
      return () => {
        current = undefined;
      };
    },
  };
  return { deps, bar, close: async () => server?.close() };
}

function writeOutputs(o: CommonOptions, json: unknown, html: () => string): void {
  if (o.json !== undefined) {
    writeFileSync(o.json, JSON.stringify(json, null, 2) + '\n');
    process.stderr.write(`wrote ${o.json}\n`);
  }
  if (o.html !== undefined) {
    writeFileSync(o.html, html());
    process.stderr.write(`wrote ${o.html}\n`);
  }
}

async function bench(o: BenchOptions, command: Command): Promise<void> {
  if (o.consistency !== undefined && (o.r !== undefined || o.w !== undefined)) throw usage('give --consistency or --r/--w, not both');
  const cluster = clusterOptions(o, o.consistency ?? o.r, o.consistency ?? o.w);
  const spec = baseSpec(o, command, cluster);
  const s = await session(o);
  try {
    const report = await runBench(spec, s.deps);
    s.bar?.done();
    process.stdout.write(benchTable(report));
    writeOutputs(o, report, () => benchHtml(report));
  } finally {
    await s.close();
  }
}

async function sweep(o: SweepOptions, command: Command): Promise<void> {
  if (o.rw !== undefined && o.consistency !== undefined) throw usage('give --rw or --consistency, not both');
  const configs = o.rw !== undefined ? parseRw(o.rw) : parseConsistencyList(o.consistency ?? 'ONE,QUORUM,ALL');
  const base = baseSpec(o, command, clusterOptions(o, undefined, undefined));
  const specs = specsFor(base, configs);
  const s = await session(o);
  try {
    const runs = await runSweep(specs, s.deps, (spec, i) => {
      s.bar?.done();
      if (o.progress) process.stderr.write(`[${i + 1}/${specs.length}] ${spec.label}\n`);
    });
    s.bar?.done();
    process.stdout.write(sweepTable(runs));
    const report: SweepReport = { schema: 'leaderless-sweep/1', runs };
    writeOutputs(o, report, () => sweepHtml(runs));
  } finally {
    await s.close();
  }
}

// ------------------------------------------------------------------------------------------------ sim

interface SimCliOptions extends BenchOptions {
  latency: 'lan' | 'lnkd-ssd' | 'lnkd-disk' | 'ymmr';
}

/**
 * The simulated cluster behind the harness's BenchCluster: the same API, with the fault vocabulary mapped onto the
 * simulator's (its delays and drops are per destination node), and virtual time as the run's clock.
 */
function simAdapter(sim: SimCluster): BenchCluster {
  return {
    get: (key, options) => sim.get(key, options),
    put: (key, value, options) => sim.put(key, value, options),
    faults: {
      partition: (groups) => sim.faults.partition(groups),
      heal: () => sim.faults.heal(),
      kill: (node) => sim.faults.kill(node),
      crash: (node, options) => sim.faults.crash(node, options),
      pause: (node) => sim.faults.pause(node),
      resume: (node) => sim.faults.resume(node),
      delay: (spec) => sim.faults.delay(spec),
      drop: (spec) => sim.faults.drop(spec),
      clear: () => sim.faults.clear(),
    },
    settle: async () => {
      await sim.settle();
    },
    repair: () => sim.repair(),
    // the harness reads the counters it knows by name (totals.readRepairs, totals.hintsQueued, ...): same names here
    metrics: () => sim.metrics() as unknown as ReturnType<NonNullable<BenchCluster['metrics']>>,
    stop: () => sim.stop(),
  };
}

async function simCommand(o: SimCliOptions, command: Command): Promise<void> {
  if (o.consistency !== undefined && (o.r !== undefined || o.w !== undefined)) throw usage('give --consistency or --r/--w, not both');
  const cluster = clusterOptions(o, o.consistency ?? o.r, o.consistency ?? o.w);
  const spec = baseSpec(o, command, cluster);
  if (o.metricsPort !== undefined) throw usage('--metrics-port serves a live thread cluster; the simulator has none');
  let sim: SimCluster | undefined;
  const profile = o.latency === 'lan' ? undefined : PBS_PROFILES[o.latency];
  const latency: Partial<SimOptions> =
    profile === undefined
      ? {}
      : { latencyByType: { put: profile.w, replicate: profile.w, 'replicate-ack': profile.a, 'put-reply': profile.a, get: profile.r, 'get-reply': profile.s } };
  const bar = o.progress ? new ProgressBar(process.stderr) : undefined;
  const deps: RunDeps = {
    factory: async (options, seed) => {
      sim = await SimCluster.start({ ...options, ...latency, seed });
      return simAdapter(sim);
    },
    clock: { nowMs: () => sim?.nowMs ?? 0, sleepMs: (ms) => (sim === undefined ? Promise.resolve() : sim.sleep(ms).then(() => undefined)) },
    ...(bar !== undefined ? { onProgress: (p) => bar.update(p) } : {}),
  };
  const wallStart = performance.now();
  const report = await runBench({ ...spec, label: `${spec.label} (simulated, ${o.latency})` }, deps);
  bar?.done();
  process.stdout.write(benchTable(report));
  const wallS = (performance.now() - wallStart) / 1000;
  const ops = (report.ops.all as { count?: number }).count ?? 0;
  process.stdout.write(`simulated: trace digest ${sim?.traceDigest() ?? '-'}, ${wallS.toFixed(1)} s of wall time` + (ops > 0 ? `, ${Math.round(ops / wallS)} simulated ops/s` : '') + '\n');
  writeOutputs(o, { ...report, simulated: { latency: o.latency, digest: sim?.traceDigest() } }, () => benchHtml(report));
}

// ------------------------------------------------------------------------------------------------ entry

export async function main(argv: string[]): Promise<number> {
  const cmd = program();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander has already printed its one line for anything else
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof InvalidConfigError || e instanceof InvalidArgumentError) {
      process.stderr.write(`leaderless: ${e.message}\n`);
      return 2;
    }
    if (e instanceof LeaderlessError) {
      process.stderr.write(`leaderless: ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
