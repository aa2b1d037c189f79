// The package entry: `import { Cluster } from 'leaderless'`.
export { Cluster, type ClusterMetrics } from './cluster.js';
export {
  ClusterClient,
  type ClientHandle,
  type GetOptions,
  type GetResult,
  type Inspection,
  type PutOptions,
  type PutResult,
} from './client.js';
export { type ClusterOptions, type DatacenterSpec } from './config.js';
export { SimCluster, type SimOptions } from './sim/index.js';
export * from '../actors/errors.js';
export type { Key } from '../actors/hash.js';
export type { Value, ConflictMode } from '../actors/types.js';
export type { ConsistencyLevel, Level } from '../actors/quorum/index.js';
// For harnesses built on the package (bench/ uses only this entry): seeded randomness with the simulator's
// distributions, the option resolver that validates a configuration, and the Prometheus exposition.
export { Prng, sample, checkDistribution, type Distribution } from './sim/prng.js';
export { resolveConfig, type ResolvedConfig } from './config.js';
export { metricsText, METRICS_CONTENT_TYPE } from './metrics.js';
export type { SimClient } from './sim/sim-client.js';
