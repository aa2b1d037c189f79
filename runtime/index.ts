// The package entry: `import { Cluster } from 'leaderless'`. It is the one place that knows both runtimes and picks
// one: Cluster.start(options) starts worker threads (the default) or, with `runtime: 'sim'`, the deterministic
// simulator. Both implement LeaderlessCluster (runtime/api.ts); the runtimes never import each other.
import { InvalidConfigError, show } from '../actors/errors.js';
import { checkOptionsObject, type ClusterOptions } from './config.js';
import { SimCluster, type SimOptions } from './sim/index.js';
import { ThreadCluster } from './threads/cluster.js';
import type { ClientHandle, ClusterClient } from './threads/client.js';
import { NatsCluster, type ConnectOptions } from './nats/index.js';

/** Starts a cluster: worker threads by default, or the simulator with `{ runtime: 'sim', seed }` (same API). */
function start(options: SimOptions & { runtime: 'sim' }): Promise<SimCluster>;
function start(options?: ClusterOptions & { runtime?: 'threads' }): Promise<ThreadCluster>;
async function start(options: (ClusterOptions & { runtime?: 'threads' }) | (SimOptions & { runtime: 'sim' }) = {}): Promise<ThreadCluster | SimCluster> {
  checkOptionsObject(options);
  if (options.runtime === 'sim') return SimCluster.start(options);
  if (options.runtime !== undefined && options.runtime !== 'threads') {
    throw new InvalidConfigError(`runtime must be 'threads' (worker threads, the default) or 'sim' (the deterministic simulator); got ${show(options.runtime)}`);
  }
  return ThreadCluster.start(options as ClusterOptions & { runtime?: 'threads' });
}

/**
 * The cluster: `Cluster.start(options)`, `Cluster.attach(handle)` in another thread (see createHandle), and
 * `Cluster.connect({ nats, cluster })` to a cluster served over NATS by `leaderless serve` processes.
 */
export const Cluster: {
  start: typeof start;
  attach(handle: ClientHandle): ClusterClient;
  connect(options: ConnectOptions): Promise<NatsCluster>;
} = { start, attach: (handle) => ThreadCluster.attach(handle), connect: (options) => NatsCluster.connect(options) };
/** A running thread cluster (what Cluster.start gives without `runtime: 'sim'`). */
export type Cluster = ThreadCluster;

export { ThreadCluster };
export { NatsCluster, NatsServer, RemoteUnsupportedError, type ConnectOptions, type ServeOptions, type NatsEndpoint, type NatsTls } from './nats/index.js';
export {
  ClusterClient,
  type ClientHandle,
} from './threads/client.js';
export type { ClientCounters, GetOptions, GetResult, Inspection, PutOptions, PutResult } from '../actors/coordinator/results.js';
export type { LatencySummary } from './metrics/latency.js';
export { type ClusterOptions, type DatacenterSpec } from './config.js';
export { SimCluster, SimClient, type SimOptions, type SimCounters, DEFAULT_LATENCY, type NetworkOptions } from './sim/index.js';
export * from '../actors/errors.js';
export { hash32, type Key } from '../actors/hash.js';
export type { Value, ConflictMode } from '../actors/types.js';
export { parseLevel, type ConsistencyLevel, type Level } from '../actors/quorum/index.js';
export type * from './api.js';
export type { HandoffStatus, MembershipChangeResult } from './host/membership-driver.js';
export type { MembershipChange } from '../actors/membership/plan.js';
export { WrongEpochError } from '../actors/membership/errors.js';
// For harnesses built on the package (bench/ uses only this entry): seeded randomness with the simulator's
// distributions, the option resolver that validates a configuration, and the Prometheus exposition.
export { Prng, sample, checkDistribution, type Distribution } from './host/prng.js';
export { resolveConfig, type ResolvedConfig } from './config.js';
export { metricsText, METRICS_CONTENT_TYPE, registerClusterMetrics, type MetricsSource, type ClusterMetricsRegistration } from './metrics/index.js';
export { percentileOf, summarizeLatency, latencyBuckets, LATENCY_BUCKETS_US, type LatencyBuckets } from './metrics/latency.js';
