// `leaderless bench --connect nats://... --cluster NAME`: the harness against a cluster served over NATS by
// `leaderless serve` processes (runtime/nats/) instead of one it starts. The run's cluster flags must describe the
// cluster it connects to (the report and the oracle read them): nodes, N, R, W and the conflict mode are checked
// against what the cluster answers, and a difference is refused in one line before anything runs. Faults act on
// processes the harness does not own, so --fault is refused too (kill, stop or cut the serving processes instead).
import { Command, Option } from 'commander';
import { Cluster, InvalidConfigError, resolveConfig, type ResolvedConfig } from '../runtime/index.js';
import { given, usage } from './cli-options.js';
import type { ClusterFactory } from './spec.js';

export interface ConnectOptions {
  connect?: string;
  cluster?: string;
  fault: string[];
}

export function addConnectOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--connect <url>', 'run against a cluster served over NATS (leaderless serve) at this server, e.g. nats://127.0.0.1:4222'))
    .addOption(new Option('--cluster <name>', 'with --connect: the served cluster\'s name'));
}

/**
 * A level as the number of replicas it asks for where that does not depend on datacenters (one datacenter): so that
 * `--r 2` matches a cluster served with R=QUORUM at N=3. Per-datacenter levels, and any level over several
 * datacenters, are compared as written.
 */
export function levelCount(level: unknown, replication: unknown): unknown {
  const perDc = typeof replication === 'object' && replication !== null ? Object.values(replication) : [replication];
  if (perDc.length !== 1 || typeof perDc[0] !== 'number' || typeof level !== 'string') return level;
  const n = perDc[0];
  const counts: Record<string, number> = { ONE: 1, TWO: 2, THREE: 3, QUORUM: Math.floor(n / 2) + 1, ALL: n };
  return counts[level.toUpperCase()] ?? level;
}

const shape = (c: ResolvedConfig): Record<string, unknown> => {
  const read = levelCount(c.read, c.replication);
  const write = levelCount(c.write, c.replication);
  return { nodes: c.nodes.length, replication: c.replication, read, write, conflicts: c.conflicts, sloppy: c.sloppy };
};

/** The factory that connects instead of starting, or undefined without --connect. */
export function connectFactory(o: ConnectOptions, command: Command): ClusterFactory | undefined {
  if (o.connect === undefined) {
    if (o.cluster !== undefined) throw usage('--cluster goes with --connect');
    return undefined;
  }
  if (o.cluster === undefined) throw usage('--connect needs --cluster NAME (the name the serving processes were started with)');
  if (given(command, 'fault')) throw usage('--fault acts on replicas this process owns; with --connect, kill (-KILL), stop (-STOP) or cut (-USR2) the serving processes instead');
  const nats = o.connect;
  const cluster = o.cluster;
  return async (options) => {
    const c = await Cluster.connect({ nats, cluster });
    const want = JSON.stringify(shape(resolveConfig(options)));
    const have = JSON.stringify(shape(c.config));
    if (want !== have) {
      await c.stop();
      throw new InvalidConfigError(`cluster ${cluster} runs ${have} but this run describes ${want}; give the flags that match it (--nodes, --n, --r, --w, --conflicts, --no-sloppy)`);
    }
    return c;
  };
}
