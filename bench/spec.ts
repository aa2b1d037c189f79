// The runner's vocabulary, apart from the runner (bench/run.ts) so that its phases (phases.ts, driver.ts, explain.ts)
// can name it without importing the runner back: what a run is given (BenchSpec, RunDeps with the cluster factory
// and clock) and the cluster it drives (BenchCluster).
import type { ClusterOptions, LeaderlessCluster } from '../runtime/index.js';
import type { DriverClock, FaultApi, FaultSpec } from './faults.js';
import type { WorkloadSpec } from './workloads.js';

/**
 * What the harness drives: the one cluster interface (runtime/api.ts), which both runtimes implement, narrowed to
 * what a run uses. metrics, settle and repair are optional so that a test can drive the harness with a fake store.
 */
export type BenchCluster = Pick<LeaderlessCluster, 'get' | 'put' | 'stop'> & {
  faults: FaultApi;
} & Partial<Pick<LeaderlessCluster, 'metrics' | 'settle' | 'repair' | 'addNode' | 'removeNode' | 'replaceNode' | 'membership'>>;

export type ClusterFactory = (options: ClusterOptions, seed: number) => Promise<BenchCluster>;
export type UpdateContext = 'last' | 'read' | 'none';

export interface BenchSpec {
  label: string;
  cluster: ClusterOptions;
  workload: WorkloadSpec;
  inFlight: number;
  /** exactly one of durationMs and operations */
  durationMs?: number;
  operations?: number;
  seed: number;
  faults: FaultSpec[];
  /** which context an update carries: the newest from a read or a put, only from a read, or none (blind) */
  updateContext: UpdateContext;
  /** operations the history keeps for the oracle; later ones are measured but not judged */
  maxHistory: number;
}

export interface Progress {
  phase: 'load' | 'run' | 'settle' | 'verify';
  done: number;
  /** operations or milliseconds, whichever `unit` says */
  total: number;
  unit: 'ops' | 'ms';
  elapsedMs: number;
  opsPerSec: number;
  errors: number;
}

export interface RunDeps {
  factory: ClusterFactory;
  clock: DriverClock;
  onProgress?: (p: Progress) => void;
  /** called once the cluster is up (e.g. to serve its metrics); the returned function is called before it stops */
  onCluster?: (c: BenchCluster) => (() => void | Promise<void>) | void;
}

