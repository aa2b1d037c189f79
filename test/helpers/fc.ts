// fast-check parameters shared by every property test: a fixed seed (so CI is deterministic) that FC_SEED overrides,
// and a run count that FC_RUNS overrides. fast-check prints the seed and the counterexample path on failure; replay
// with FC_SEED=<seed> npm test.
import type { Parameters } from 'fast-check';

export function fcParams<T>(numRuns = 200, extra: Partial<Parameters<T>> = {}): Parameters<T> {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x1eade71e;
  const runs = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : numRuns;
  return { seed, numRuns: runs, ...extra };
}
