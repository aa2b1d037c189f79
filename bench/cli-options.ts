// The options `bench`, `sim` and `sweep` share, and how they become a BenchSpec. Every default is declared with
// commander's `.default()`, so `--help` writes them one way: `(default: 5s)`. Where the default depends on another
// option (the key distribution follows the workload), `.default()` carries a sentinel and a description.
//
// Data layout: commander's option object -> ClusterOptions (checked by the cluster's own resolveConfig), a
// WorkloadSpec and the fault schedule -> a BenchSpec (bench/run.ts).
import { type Command, InvalidArgumentError as CliArgError, Option } from 'commander';
import { InvalidConfigError, resolveConfig, type ClusterOptions, type DatacenterSpec } from '../runtime/index.js';
import { durationHelp, tryDurationMs } from './duration.js';
import { checkFaults, parseFault, type FaultSpec } from './faults.js';
import { MAX_IN_FLIGHT, type BenchSpec, type UpdateContext } from './run.js';
import { DISTRIBUTIONS, MAX_KEYS, PRESETS, parseMix, type Distribution, type WorkloadSpec } from './workloads.js';

/** The most operations a history keeps by default (about 100 bytes each). */
const DEFAULT_MAX_HISTORY = 2_000_000;
/** --distribution's default: the workload's own distribution. */
const WORKLOAD_DISTRIBUTION = 'workload';
const MAX_DURATION_MS = 86_400_000;
const MIN_DURATION_MS = 50;

export function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new CliArgError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** A duration option's parser: milliseconds from `3s`, `500ms`, `2m` or plain seconds. */
export function duration(name: string, minMs: number, maxMs: number) {
  return (v: string): number => {
    const ms = tryDurationMs(v, 's');
    if (ms === undefined) throw new CliArgError(`${name} "${v}" is not a duration; ${durationHelp('s')}`);
    if (ms < minMs || ms > maxMs) throw new CliArgError(`${name} must be from ${minMs}ms to ${maxMs / 3_600_000}h (${maxMs / 1000} s); got ${v}`);
    return ms;
  };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export interface CommonOptions {
  nodes: number;
  datacenters?: string;
  n: string;
  conflicts: 'siblings' | 'lww';
  sloppy: boolean;
  readRepair: 'async' | 'blocking' | 'off';
  localReads: 'quorum' | 'one' | 'off';
  vnodes: number;
  timeoutMs: number;
  workload: string;
  mix?: string;
  distribution: Distribution | typeof WORKLOAD_DISTRIBUTION;
  keys: number;
  valueSize: number;
  inFlight: number;
  /** milliseconds */
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

/** bench and sim: one read and one write level. */
export interface BenchOptions extends CommonOptions {
  r: string;
  w: string;
  consistency?: string;
}

const WORKLOAD_HELP =
  'YCSB workload: ' +
  Object.entries(PRESETS)
    .map(([k, p]) => `${k} ${p.description}`)
    .join('; ') +
  ' (E, short scans, is left out: the store has no range scans)';

const FAULT_HELP = 'a fault, repeatable: kill:2@3s, crash:2[:wipe]@3s, pause:2@1s-3s, partition:0,1/2,3,4@2s-5s, delay:*:50ms@1s-4s, drop:1:0.2@1s-4s (times: 500ms, 3s, 2m, or seconds)';

export function addCommonOptions(cmd: Command, defaultDurationMs: number): Command {
  return cmd
    .addOption(new Option('--nodes <n>', 'replica actors, one worker thread each').default(5).argParser(int('--nodes', 1, 256)))
    .addOption(new Option('--datacenters <list>', 'instead of --nodes: NAME:NODES[:RACKS],..., e.g. dc1:3,dc2:3'))
    .addOption(new Option('--n <n>', 'replication factor N, or per datacenter dc1:2,dc2:2').default('3', '3'))
    .addOption(new Option('--conflicts <mode>', 'concurrent writes kept as siblings, or last-write-wins').choices(['siblings', 'lww']).default('siblings'))
    .addOption(new Option('--sloppy', 'sloppy quorums: hinted writes to fallbacks count toward W').default(true))
    .addOption(new Option('--no-sloppy', 'strict quorums: only primaries count'))
    .addOption(new Option('--read-repair <mode>', 'read repair').choices(['async', 'blocking', 'off']).default('async'))
    .addOption(new Option('--local-reads <mode>', "reads from replicas' shared memory (sharedMemoryReads)").choices(['quorum', 'one', 'off']).default('quorum'))
    .addOption(new Option('--vnodes <n>', 'virtual nodes per node on the ring').default(16).argParser(int('--vnodes', 1, 4096)))
    .addOption(new Option('--timeout-ms <ms>', 'per-operation timeout').default(1000).argParser(int('--timeout-ms', 1, 3_600_000)))
    .addOption(new Option('--workload <letter>', WORKLOAD_HELP).default('A'))
    .addOption(new Option('--mix <shares>', "custom mix instead of the workload's, e.g. read=0.7,update=0.3 (read, update, insert, rmw)"))
    .addOption(new Option('--distribution <name>', 'key distribution').choices([...DISTRIBUTIONS]).default(WORKLOAD_DISTRIBUTION, "the workload's"))
    .addOption(new Option('--keys <n>', 'keys loaded before the run').default(10_000).argParser(int('--keys', 1, MAX_KEYS)))
    .addOption(new Option('--value-size <bytes>', 'bytes per value').default(100).argParser(int('--value-size', 0, 1 << 20)))
    .addOption(new Option('--in-flight <n>', 'operations in flight (closed loops)').default(64).argParser(int('--in-flight', 1, MAX_IN_FLIGHT)))
    .addOption(
      new Option('--duration <time>', 'how long to run: 500ms, 3s, 2m, or seconds')
        .default(defaultDurationMs, `${defaultDurationMs / 1000}s`)
        .argParser(duration('--duration', MIN_DURATION_MS, MAX_DURATION_MS)),
    )
    .addOption(new Option('--ops <n>', 'run this many operations instead of a duration').argParser(int('--ops', 1, 1e9)))
    .addOption(new Option('--seed <n>', 'seed of the workload').default(1).argParser(int('--seed', 0, 2 ** 31 - 1)))
    .addOption(
      new Option('--update-context <which>', "context an update carries: from the key's last read, the newest from a read or a put (last; a put's context covers the siblings its result lists), or none (blind)")
        .choices(['read', 'last', 'none'])
        .default('read'),
    )
    .addOption(new Option('--max-history <n>', 'operations kept for the consistency oracle').default(DEFAULT_MAX_HISTORY).argParser(int('--max-history', 1, 50_000_000)))
    .addOption(new Option('--fault <spec>', FAULT_HELP).default([], 'none').argParser(collect))
    .addOption(new Option('--json <file>', 'write everything measured, with the configuration and seed, as JSON'))
    .addOption(new Option('--html <file>', 'write a standalone HTML report with charts'))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:PORT/metrics while running (0: any free port)').argParser(int('--metrics-port', 0, 65535)))
    .addOption(new Option('--no-progress', 'no progress bar on stderr'));
}

/** --r, --w and --consistency (bench and sim). */
export function addLevelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--r <level>', 'read consistency: ONE, TWO, QUORUM, ALL, ... or a number').default('QUORUM'))
    .addOption(new Option('--w <level>', 'write consistency: a level (ANY too) or a number').default('QUORUM'))
    .addOption(new Option('--consistency <level>', 'one level for both reads and writes, instead of --r and --w'));
}

// ------------------------------------------------------------------------------------------------ option -> spec

export function usage(message: string): InvalidConfigError {
  return new InvalidConfigError(message);
}

/** Whether the user gave the option (rather than its default). */
export const given = (command: Command, name: string): boolean => command.getOptionValueSource(name) === 'cli';

/** The read and write levels of bench and sim. */
export function levels(o: BenchOptions, command: Command): { read: string; write: string } {
  if (o.consistency === undefined) return { read: o.r, write: o.w };
  if (given(command, 'r') || given(command, 'w')) throw usage('give --consistency or --r/--w, not both');
  return { read: o.consistency, write: o.consistency };
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
    distribution: o.distribution === WORKLOAD_DISTRIBUTION ? preset.distribution : o.distribution,
    keys: o.keys,
    valueSizeBytes: o.valueSize,
  };
}

const level = (text: string): ClusterOptions['read'] => (/^\d+$/.test(text) ? Number(text) : (text.toUpperCase() as ClusterOptions['read']));

export function clusterOptions(o: CommonOptions, command: Command, read: string, write: string): ClusterOptions {
  const dcs = o.datacenters !== undefined ? parseDatacenters(o.datacenters) : undefined;
  if (dcs !== undefined && given(command, 'nodes')) throw usage('give --nodes or --datacenters, not both');
  const c: ClusterOptions = {
    ...(dcs !== undefined ? { datacenters: dcs } : { nodes: o.nodes }),
    replication: parseReplication(o.n, dcs),
    read: level(read),
    write: level(write) as ClusterOptions['write'],
    conflicts: o.conflicts,
    sloppy: o.sloppy,
    readRepair: o.readRepair,
    sharedMemoryReads: o.localReads,
    timeoutMs: o.timeoutMs,
    ...(given(command, 'vnodes') ? { vnodes: o.vnodes } : {}),
  };
  // room for the keys (loaded and inserted) when a run asks for more than a replica's default store holds
  const keys = o.keys * 2;
  if (keys > 1 << 18) c.storeMaxKeys = Math.min(1 << 26, 2 ** Math.ceil(Math.log2(keys)));
  const bytes = o.keys * (o.valueSize + 128) * 2;
  if (bytes > 64 << 20) c.storeArenaBytes = Math.min(2 ** 31 - 1, 2 ** Math.ceil(Math.log2(bytes)));
  return c;
}

export function baseSpec(o: CommonOptions, command: Command, cluster: ClusterOptions): BenchSpec {
  if (o.ops !== undefined && given(command, 'duration')) throw usage('give --duration or --ops, not both');
  const workload = workloadSpec(o);
  const resolved = resolveConfig(cluster); // R > N, W > N, N > nodes, ... fail here with the cluster's own message
  const faults: FaultSpec[] = o.fault.map(parseFault);
  const durationMs = o.ops === undefined ? Math.round(o.duration) : undefined;
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
