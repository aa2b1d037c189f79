// The HTML report of `leaderless pbs --html`: per latency profile, a chart of P(consistent) against t with the
// simulated measurement beside the WARS models (one colour per R/W; measured solid with marks, WARS-local dashed,
// plain WARS dotted), headline numbers first, and the table of P at t = 0 and the t for 99.9%.
import { Charts, COLORS, POINTS, details, esc, headlines, htmlTable, page, rangeDown, type ChartSpec, type Headline, type SeriesSpec } from '../report/index.js';
import { summaryText } from './format.js';
import { PBS_PROFILES, type PbsProfileName } from './profiles.js';
import type { PbsCell, PbsReport } from './run.js';

const prob = (x: number): string => x.toFixed(4);
const ms = (x: number | null): string => (x === null ? '-' : String(Number(x.toPrecision(3))));

/** The model measured is read against: WARS-local (a replica coordinates), WARS (a proxy does, --coordinator any). */
export const modelOf = (r: { coordinator?: string }): 'WARS' | 'WARS-local' => (r.coordinator === 'any' ? 'WARS' : 'WARS-local');

/**
 * Largest |measured - model| over every t of every cell (the model: modelOf), as a probability, and the largest in
 * standard errors of the measured proportion (sqrt(p(1-p)/trials), floored at one stale read in `trials`): sampling
 * noise or a real gap.
 */
export function maxModelGap(r: PbsReport): { gap: number; sigmas: number } {
  let gap = 0;
  let sigmas = 0;
  for (const c of r.cells) {
    const model = modelOf(r) === 'WARS' ? c.wars : c.warsLocal;
    c.measured.forEach((p, i) => {
      const q = model[i];
      const se = Math.sqrt(Math.max(q * (1 - q), 1 / c.sim.trials) / c.sim.trials);
      gap = Math.max(gap, Math.abs(p - q));
      sigmas = Math.max(sigmas, Math.abs(p - q) / se);
    });
  }
  return { gap, sigmas };
}

function pbsHeadlines(r: PbsReport): Headline[] {
  const { gap, sigmas } = maxModelGap(r);
  const profiles = [...new Set(r.cells.map((c) => c.profile))];
  const worst = r.cells.reduce<PbsCell | undefined>((a, c) => (a === undefined || (c.tVisibilityMs.warsLocal > a.tVisibilityMs.warsLocal) ? c : a), undefined);
  const cards: Headline[] = [
    { id: 'cells', label: 'cells (profile x R/W)', value: String(r.cells.length), detail: profiles.join(', ') },
    { id: 'trials', label: 'simulated trials per cell', value: r.trials.toLocaleString('en-US'), detail: `${r.modelTrials.toLocaleString('en-US')} model trials per cell` },
    { id: 'seed', label: 'seed', value: String(r.seed), detail: 'the same seed gives the same numbers' },
    {
      id: 'model-gap', label: `largest |measured - ${modelOf(r)}|${r.coordinator === 'any' ? ' (proxy coordinator)' : ''}`, value: `${(gap * 100).toFixed(2)} pp`,
      detail: `percentage points of P(consistent) over every t and cell; at most ${sigmas.toFixed(1)} standard errors of ${r.trials} trials`,
      tone: sigmas <= 4 ? 'good' : 'bad',
    },
    { id: 'sim-speed', label: 'simulated ops/s (wall)', value: Math.round(r.sim.opsPerSec).toLocaleString('en-US'), detail: `${r.sim.ops.toLocaleString('en-US')} puts and gets` },
  ];
  if (worst !== undefined) {
    cards.push({ id: 't999', label: `slowest t for ${r.targetP * 100}% (WARS-local)`, value: `${ms(worst.tVisibilityMs.warsLocal)} ms`, detail: `${worst.profile} R=${worst.r} W=${worst.w}; measured ${ms(worst.tVisibilityMs.measured)} ms` });
  }
  return cards;
}

function profileSpec(name: PbsProfileName, cells: PbsCell[]): ChartSpec {
  const series: SeriesSpec[] = [];
  cells.forEach((c, i) => {
    const color = COLORS[i % COLORS.length];
    const rw = `R=${c.r} W=${c.w}`;
    series.push({ name: `${rw} measured`, color, point: POINTS[i % POINTS.length], radius: 4, data: c.measured });
    series.push({ name: `${rw} WARS-local`, color, dash: [7, 4], point: 'line', radius: 0, width: 1.5, data: c.warsLocal });
    series.push({ name: `${rw} WARS`, color, dash: [2, 3], point: 'line', radius: 0, width: 1.5, data: c.wars });
  });
  const all = cells.flatMap((c) => [...c.measured, ...c.warsLocal, ...c.wars]);
  const p = PBS_PROFILES[name];
  return {
    id: `pbs-${name}`, kind: 'line', title: `${name}: P(consistent) against t after commit${p.remoteMs > 0 ? ` (+${p.remoteMs} ms across datacenters)` : ''}`,
    // the grid's t values evenly spaced (each profile's grid is about logarithmic), so the early curve is not crowded
    x: { title: 't after the write committed (ms; grid points evenly spaced)', categories: (cells[0]?.tMs ?? []).map((t) => String(Number(t.toPrecision(4)))) },
    y: { title: 'P(read returns the write)', format: 'prob', ...rangeDown(all, 1, 0.05, 0.05) },
    series, legend: true, width: 1060, height: 360,
    note: 'Solid with marks: measured on the simulated cluster. Dashed: WARS with the coordinator one of the replicas (our protocol). Dotted: the paper\'s WARS.',
  };
}

function cellRows(r: PbsReport): string[][] {
  return r.cells.map((c) => {
    const i0 = c.tMs.indexOf(0);
    const at0 = (ps: number[]): string => (i0 < 0 ? '-' : prob(ps[i0]));
    const v = c.tVisibilityMs;
    return [c.profile, `${c.r}/${c.w}`, at0(c.measured), at0(c.warsLocal), at0(c.wars), prob(c.closedForm), ms(v.measured), ms(v.warsLocal), ms(v.wars)];
  });
}

export function pbsHtml(r: PbsReport): string {
  const charts = new Charts();
  const profiles = [...new Set(r.cells.map((c) => c.profile))];
  const figures = profiles.map((p) => charts.figure(profileSpec(p, r.cells.filter((c) => c.profile === p))));
  const t = `t@${r.targetP * 100}%`;
  const body = [
    `<h1>leaderless pbs</h1>`,
    `<p class="sub">Probabilistically Bounded Staleness (Bailis et al., VLDB 2012): N=${r.n}, seed ${r.seed}, ${r.trials} simulated trials and ` +
      `${r.modelTrials} model trials per cell; strict quorums, reads ask all N and take the first R, read repair and anti-entropy off.</p>`,
    headlines(pbsHeadlines(r)),
    ...figures,
    `<h2>P(consistent) at t = 0 and the t (ms) for ${r.targetP * 100}%</h2>`,
    htmlTable(['profile', 'R/W', 'P0 measured', 'P0 WARS-local', 'P0 WARS', 'closed form', `${t} measured`, `${t} WARS-local`, `${t} WARS`], cellRows(r)),
    ...r.notes.map((n) => `<p class="note">${esc(n)}</p>`),
    details('The terminal summary', summaryText(r)),
  ];
  return page('leaderless pbs report', body.join('\n'), charts.specs);
}
