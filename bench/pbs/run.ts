// A PBS run: every (profile, R/W) cell measured on the simulator and computed by the models.
import { InvalidArgumentError, hash32 } from '../../runtime/index.js';
import { pConsistentClosedForm } from './closed-form.js';
import { cellText, headerText, profileText, summaryText } from './format.js';
import { pAt, tFor, warsThresholds } from './model.js';
import { checkPbsOptions, type PbsOptions } from './options.js';
import { PBS_N, PBS_PROFILES, PBS_TARGET_P, type PbsProfile, type RwConfig } from './profiles.js';
import { measureSim } from './simulation.js';

export type { PbsCell, PbsReport } from './types.js';
import type { PbsCell, PbsReport } from './types.js';

export const PBS_NOTES: readonly string[] = [
  'measured = the simulated cluster running the real protocol (actors/), one fresh key per trial, reads at commit + t.',
  'WARS = the paper\'s model: a coordinator apart from the N replicas, commit at the W-th fastest W_i + A_i.',
  'WARS-local = WARS with our protocol\'s difference: the coordinator is one of the N replicas and applies the write ' +
    'locally at once (W_c = A_c = 0). Measured follows WARS-local, not WARS. Two effects: one replica always holds the ' +
    'write at commit (raises P for W >= 2), and its own ack is instant, so a W = 1 write commits before any other ' +
    'replica can have it, where plain WARS waits a round trip during which the write spreads (lowers P at small t ' +
    'for W = 1, sharply for R = 2, W = 1).',
  'closed form = 1 - C(N-W, R) / C(N, R), the k=1 staleness bound: it ignores propagation, so it holds at every t.',
  'wan: 3 datacenters of one replica, +75 ms one way across datacenters; the writer sits beside the key\'s coordinator, ' +
    'each read beside a replica drawn at random (the models draw both operations\' local replica at random).',
  't for 99.9%: exact quantiles for the models; for measured, linear between the two grid points around the crossing, ' +
    'with about trials/1000 stale reads left at that t (noisy below ~10^4 trials; raise --trials).',
];

/** The notes of a run with --coordinator any: measured is then the paper's protocol, to be read against WARS. */
export const PBS_PROXY_NOTES: readonly string[] = [
  'measured = the simulated cluster running the real protocol with a proxy coordinator (--coordinator any): each write ' +
    'goes through a node that is none of the key\'s N replicas (one node more in the cluster), which keeps no copy, sends ' +
    'the write to all N and counts W replica acks, as the paper\'s WARS model and Cassandra do. Measured follows WARS.',
  'the proxy mints each write under a one-off DVV id, which adds an entry to the key\'s clock per write: a measurement ' +
    'mode for one write per fresh key, not a way to run a store (actors/coordinator/proxy-put.ts).',
  ...PBS_NOTES.filter((n) => !n.startsWith('measured =')).map((n) =>
    n
      .replace('Measured follows WARS-local, not WARS.', 'With --coordinator replica (the default) measured follows WARS-local.')
      .replace('3 datacenters of one replica,', '3 datacenters of one replica (and, with a proxy, the proxy beside the dc0 replica),')
      .replace("the writer sits beside the key's coordinator", 'the writer sits beside the proxy'),
  ),
];

/** Runs every (profile, R/W) cell, printing as it goes (a table, or the report as JSON at the end). */
export async function runPbs(options: PbsOptions, out: NodeJS.WritableStream): Promise<PbsReport> {
  const o = checkPbsOptions(options);
  const report: PbsReport = {
    n: PBS_N, seed: o.seed, trials: o.trials, modelTrials: o.modelTrials, targetP: PBS_TARGET_P, cells: [],
    sim: { ops: 0, events: 0, wallMs: 0, opsPerSec: 0, eventsPerSec: 0 }, modelWallMs: 0,
    coordinator: o.coordinator ?? 'replica', notes: o.coordinator === 'any' ? [...PBS_PROXY_NOTES] : [...PBS_NOTES],
  };
  const table = o.format === 'table';
  if (table) out.write(headerText(o));
  for (const name of o.profiles) {
    const profile = PBS_PROFILES[name];
    if (table) out.write(profileText(profile));
    for (const rw of o.configs) {
      const cell = await runCell(profile, rw, o, report);
      report.cells.push(cell);
      if (table) out.write(cellText(cell));
    }
  }
  const s = report.sim;
  s.opsPerSec = s.wallMs > 0 ? (s.ops / s.wallMs) * 1000 : 0;
  s.eventsPerSec = s.wallMs > 0 ? (s.events / s.wallMs) * 1000 : 0;
  out.write(table ? summaryText(report) : `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

async function runCell(profile: PbsProfile, rw: RwConfig, o: PbsOptions, report: PbsReport): Promise<PbsCell> {
  const seed = hash32(`pbs/${profile.name}/${rw.r}/${rw.w}`, o.seed);
  const tMs = o.tMs ?? [...profile.tGridMs];
  const coordinator = o.coordinator ?? 'replica';
  const sim = await measureSim(profile, { ...rw, trials: o.trials, seed, tMs, coordinator });
  const t0 = performance.now();
  const model = { n: PBS_N, ...rw, trials: o.modelTrials, seed };
  // The same seed for both models: common random numbers, so their difference is the coordinator, not noise.
  const local = warsThresholds(profile, { ...model, localCoordinator: true });
  const plain = warsThresholds(profile, { ...model, localCoordinator: false });
  report.modelWallMs += performance.now() - t0;
  report.sim.ops += sim.ops;
  report.sim.events += sim.events;
  report.sim.wallMs += sim.wallMs;
  const measured = sim.consistent.map((c) => c / sim.trials);
  const crossing = gridCrossing(tMs, measured, PBS_TARGET_P);
  return {
    profile: profile.name, ...rw, seed, tMs, coordinator, measured,
    warsLocal: tMs.map((t) => pAt(local, t)),
    wars: tMs.map((t) => pAt(plain, t)),
    closedForm: pConsistentClosedForm(PBS_N, rw.r, rw.w),
    tVisibilityMs: {
      measured: crossing?.atMs ?? null,
      measuredBracketMs: crossing?.bracketMs ?? null,
      warsLocal: tFor(local, PBS_TARGET_P),
      wars: tFor(plain, PBS_TARGET_P),
    },
    sim,
  };
}

/** The first grid t where p reaches target, linear between it and the grid point before; undefined if none does. */
export function gridCrossing(
  tMs: readonly number[],
  p: readonly number[],
  target: number,
): { atMs: number; bracketMs: [number, number] } | undefined {
  if (tMs.length !== p.length) throw new InvalidArgumentError(`gridCrossing: ${tMs.length} t values but ${p.length} probabilities`);
  for (let j = 0; j < tMs.length; j++) {
    if (p[j] < target) continue;
    if (j === 0) return { atMs: tMs[0], bracketMs: [tMs[0], tMs[0]] };
    const [t0, t1, p0, p1] = [tMs[j - 1], tMs[j], p[j - 1], p[j]];
    return { atMs: t0 + ((target - p0) / (p1 - p0)) * (t1 - t0), bracketMs: [t0, t1] };
  }
  return undefined;
}
