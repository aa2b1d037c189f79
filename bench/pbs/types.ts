// What a PBS run reports, apart from the runner so that the formatter can name it without importing the runner.
import type { PbsProfileName } from './profiles.js';
import type { PbsCoordinator } from './options.js';
import type { SimMeasurement } from './simulation.js';

export interface PbsCell {
  profile: PbsProfileName;
  r: number;
  w: number;
  /** the seed of this cell's cluster and models, derived from the run's seed, the profile and R/W */
  seed: number;
  /** who coordinated the writes: the key's first replica (WARS-local), or a proxy that is none of them (WARS) */
  coordinator: PbsCoordinator;
  tMs: number[];
  /** P(consistent) per t: the simulated cluster, WARS with the coordinator a replica, plain WARS */
  measured: number[];
  warsLocal: number[];
  wars: number[];
  /** 1 - C(N-W, R) / C(N, R), every t */
  closedForm: number;
  /** the t (ms) at which P reaches PBS_TARGET_P; measured: interpolated on the grid, null if the grid never does */
  tVisibilityMs: { measured: number | null; measuredBracketMs: [number, number] | null; warsLocal: number; wars: number };
  sim: SimMeasurement;
}

export interface PbsReport {
  n: number;
  seed: number;
  trials: number;
  modelTrials: number;
  targetP: number;
  cells: PbsCell[];
  /** the simulation's throughput: puts plus gets (and simulator events) per second of wall time */
  sim: { ops: number; events: number; wallMs: number; opsPerSec: number; eventsPerSec: number };
  modelWallMs: number;
  /** --coordinator: measured is read against WARS-local ('replica') or WARS ('any') */
  coordinator: PbsCoordinator;
  notes: string[];
}

