// Which seeds a randomized suite runs: `${P}_SEED=S` replays one, `${P}_SEEDS=N` runs N from `${P}_FROM` (default 1),
// and CI runs `ciSeeds` from 1.
export function seedsFromEnv(prefix: string, ciSeeds: number): number[] {
  const env = process.env;
  if (env[`${prefix}_SEED`] !== undefined) return [Number(env[`${prefix}_SEED`])];
  const n = env[`${prefix}_SEEDS`] !== undefined ? Number(env[`${prefix}_SEEDS`]) : ciSeeds;
  const from = Number(env[`${prefix}_FROM`] ?? 1);
  return Array.from({ length: n }, (_, i) => from + i);
}
