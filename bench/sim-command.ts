// `leaderless sim`: the bench workload on the deterministic simulator. Every replica actor runs in this one thread on
// virtual time, over a network that the seed drives (latency per --latency; faults as in bench). It runs the same
// protocol code as the thread cluster, not a model of it; the same seed replays the same run exactly (its trace
// digest is printed). Latencies, throughput and durations are virtual: what the configuration would give on that
// network, not what this machine does.
import { Option, type Command } from 'commander';
import { SimCluster, type SimOptions } from '../runtime/index.js';
import { addCommonOptions, addLevelOptions, baseSpec, clusterOptions, given, levels, usage, type BenchOptions } from './cli-options.js';
import { checkOutputs, writeOutputs } from './cli-session.js';
import { PBS_PROFILES } from './pbs/index.js';
import { ProgressBar } from './progress.js';
import { benchHtml, benchTable, replayCommand, type SimInfo } from './report/index.js';
import { runBench, type RunDeps } from './run.js';

export const SIM_DESCRIPTION =
  'the bench workload on the deterministic simulator: every replica actor in one thread on virtual time, over a seeded ' +
  'network; the same protocol code as bench, not a model; same seed, same run (its trace digest is printed); ' +
  'latencies and throughput are virtual';

const SIM_HELP_AFTER = `
What it is: a discrete-event simulation. The replicas, coordinators and clients of a bench run execute in one thread;
time is virtual and advances from one message delivery to the next, so a 5 s run takes as long as its events take to
compute. Message latency follows --latency (lan: uniform 0.5-1.5 ms one way; a PBS profile: the production
distributions of Bailis et al.); faults (--fault) act on the simulated network and nodes. Replay a run with the same
options and --seed: the trace digest at the end must match.`;

type Latency = 'lan' | 'lnkd-ssd' | 'lnkd-disk' | 'ymmr';

interface SimCliOptions extends BenchOptions {
  latency: Latency;
}

export function addSimCommand(root: Command): void {
  addLevelOptions(addCommonOptions(root.command('sim').description(SIM_DESCRIPTION), 5000))
    .addOption(new Option('--latency <profile>', 'one-way message latency: lan (uniform 0.5-1.5 ms) or a PBS profile').choices(['lan', 'lnkd-ssd', 'lnkd-disk', 'ymmr']).default('lan'))
    .addHelpText('after', SIM_HELP_AFTER)
    .action(async (o: SimCliOptions, command: Command) => {
      await simCommand(o, command);
    });
}

/** The first lines of `sim` output: what produced the figures below. */
export function simHeader(latency: Latency, seed: number): string {
  return (
    `leaderless sim: a deterministic simulation (virtual time, seeded network, latency ${latency}, seed ${seed}); ` +
    'the same protocol code as bench, in one thread; times and throughput below are virtual\n'
  );
}

function latencyOptions(latency: Latency): Partial<SimOptions> {
  const profile = latency === 'lan' ? undefined : PBS_PROFILES[latency];
  if (profile === undefined) return {};
  return { latencyByType: { put: profile.w, replicate: profile.w, 'replicate-ack': profile.a, 'put-reply': profile.a, get: profile.r, 'get-reply': profile.s } };
}

async function simCommand(o: SimCliOptions, command: Command): Promise<void> {
  const { read, write } = levels(o, command);
  // The simulator's reads go by message over its modelled network unless --local-reads is given: then they read the
  // simulated stores as the thread runtime reads shared memory (SimOptions.localReads).
  const localReads = given(command, 'localReads') && o.localReads !== 'off';
  const cluster = clusterOptions(o, command, read, write);
  if (!localReads) cluster.sharedMemoryReads = 'off';
  const spec = baseSpec(o, command, cluster);
  if (o.metricsPort !== undefined) throw usage('--metrics-port serves a live thread cluster; the simulator has none');
  checkOutputs(o);
  let sim: SimCluster | undefined;
  const latency = latencyOptions(o.latency);
  const bar = o.progress ? new ProgressBar(process.stderr) : undefined;
  const deps: RunDeps = {
    factory: async (options, seed) => {
      sim = await SimCluster.start({ ...options, ...latency, seed, localReads });
      return sim;
    },
    clock: { nowMs: () => sim?.nowMs ?? 0, sleepMs: (ms) => (sim === undefined ? Promise.resolve() : sim.sleep(ms)) },
    ...(bar !== undefined ? { onProgress: (p) => bar.update(p) } : {}),
  };
  const wallStart = performance.now();
  const report = await runBench({ ...spec, label: `${spec.label} (simulated, ${o.latency})` }, deps);
  bar?.done();
  process.stdout.write(simHeader(o.latency, spec.seed) + benchTable(report));
  const wallS = (performance.now() - wallStart) / 1000;
  const ops = report.ops.all.count;
  process.stdout.write(`simulated: trace digest ${sim?.traceDigest() ?? '-'}, ${wallS.toFixed(1)} s of wall time` + (ops > 0 ? `, ${Math.round(ops / wallS)} simulated ops/s` : '') + '\n');
  const simInfo: SimInfo = { latency: o.latency, digest: sim?.traceDigest() ?? '-', virtualMs: sim?.nowMs ?? 0, replay: replayCommand(process.argv.slice(2)) };
  writeOutputs(o, { ...report, simulated: { latency: o.latency, digest: sim?.traceDigest() } }, () => benchHtml(report, simInfo));
}
