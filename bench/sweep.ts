// `leaderless sweep`: the same workload, seed and fault schedule against several quorum configurations, one after
// another, each on a fresh cluster, reported side by side.
//
// Data layout: a SweepConfig is a label plus the read and write levels it sets; `--rw 1/1,2/2,1/3,3/1` gives R/W
// pairs (numbers or level names), `--consistency ONE,QUORUM,ALL` gives one level used for both. Every configuration is
// checked against the cluster (R <= N, W <= N) before the first run starts, so a bad one fails in a second, not after
// the others ran.
import { InvalidConfigError, parseLevel, resolveConfig, type Level } from '../runtime/index.js';
import { runBench, type BenchReport, type BenchSpec, type RunDeps } from './run.js';

export interface SweepConfig {
  label: string;
  read: Level;
  write: Level;
}

/** Most configurations one sweep runs. */
export const MAX_SWEEP_CONFIGS = 32;

function list(text: string, what: string): string[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new InvalidConfigError(`${what} "${text}": give a comma-separated list without empty items`);
  if (parts.length > MAX_SWEEP_CONFIGS) throw new InvalidConfigError(`${what}: at most ${MAX_SWEEP_CONFIGS} configurations; got ${parts.length}`);
  return parts;
}

/** `1/1,2/2,1/3,QUORUM/ONE` */
export function parseRw(text: string): SweepConfig[] {
  return list(text, '--rw').map((pair) => {
    const m = /^([^/]+)\/([^/]+)$/.exec(pair);
    if (m === null) throw new InvalidConfigError(`--rw "${pair}": write R/W, e.g. 2/2 or QUORUM/ONE`);
    const read = parseLevel(m[1], 'read');
    const write = parseLevel(m[2], 'write');
    return { label: `R=${read} W=${write}`, read, write };
  });
}

/** `ONE,QUORUM,ALL`: each level for both reads and writes. */
export function parseConsistencyList(text: string): SweepConfig[] {
  return list(text, '--consistency').map((l) => {
    const level = parseLevel(l, 'read');
    return { label: String(level), read: level, write: parseLevel(l, 'write') };
  });
}

export function specsFor(base: BenchSpec, configs: SweepConfig[]): BenchSpec[] {
  const labels = new Set<string>();
  return configs.map((c) => {
    if (labels.has(c.label)) throw new InvalidConfigError(`the sweep names ${c.label} twice`);
    labels.add(c.label);
    const cluster = { ...base.cluster, read: c.read, write: c.write };
    try {
      resolveConfig(cluster);
    } catch (e) {
      if (e instanceof InvalidConfigError) throw new InvalidConfigError(`sweep configuration ${c.label}: ${e.message}`);
      throw e;
    }
    return { ...base, label: c.label, cluster };
  });
}

/** Runs the specs one after another; `onRun` hears which one starts (for a progress label). */
export async function runSweep(specs: BenchSpec[], deps: RunDeps, onRun?: (spec: BenchSpec, index: number) => void): Promise<BenchReport[]> {
  const out: BenchReport[] = [];
  for (let i = 0; i < specs.length; i++) {
    onRun?.(specs[i], i);
    out.push(await runBench(specs[i], deps));
  }
  return out;
}
