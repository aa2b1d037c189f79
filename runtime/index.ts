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
export type { ConsistencyLevel, Level } from '../actors/quorum.js';
