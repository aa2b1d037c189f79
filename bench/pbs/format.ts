// The terminal text of a PBS run.
import type { Distribution } from '../../runtime/index.js';
import type { PbsOptions } from './options.js';
import { PBS_N, PBS_TARGET_P, type PbsProfile } from './profiles.js';
import type { PbsCell, PbsReport } from './types.js';

/** A distribution as the paper writes it: 91.22% Pareto(xm 0.235, a 10) + 8.78% Exp(l 1.66). */
export function describeDistribution(d: Distribution): string {
  switch (d.kind) {
    case 'constant':
      return `${d.ms} ms`;
    case 'uniform':
      return `U(${d.minMs}, ${d.maxMs})`;
    case 'exponential':
      return `Exp(l ${d.rate})`;
    case 'pareto':
      return `Pareto(xm ${d.xm}, a ${d.alpha})`;
    case 'shifted':
      return `${d.offsetMs} + ${describeDistribution(d.dist)}`;
    case 'mixture': {
      const total = d.parts.reduce((a, p) => a + p.weight, 0);
      return d.parts.map((p) => `${round((100 * p.weight) / total, 4)}% ${describeDistribution(p.dist)}`).join(' + ');
    }
  }
}

const round = (x: number, digits: number): number => Number(x.toPrecision(digits));
const prob = (x: number): string => x.toFixed(4);
const ms = (x: number | null): string => (x === null ? '-' : x === 0 ? '0' : String(round(x, 3)));
const pad = (s: string, width: number): string => (s.length >= width ? s : ' '.repeat(width - s.length) + s);
const padEnd = (s: string, width: number): string => (s.length >= width ? s : s + ' '.repeat(width - s.length));

export function headerText(o: PbsOptions): string {
  return (
    `leaderless pbs: Bailis et al., "Probabilistically Bounded Staleness for Practical Partial Quorums" (VLDB 2012)\n` +
    `N=${PBS_N}, seed ${o.seed}, ${o.trials} simulated trials and ${o.modelTrials} model trials per cell; ` +
    `strict quorums, reads ask all N and take the first R, read repair and anti-entropy off\n` +
    (o.coordinator === 'any'
      ? 'writes coordinated by a node that is none of the key\'s replicas (--coordinator any, a proxy as in WARS): read measured against WARS\n'
      : 'writes coordinated by the key\'s first replica (as leaderless does): read measured against WARS-local; --coordinator any for WARS\n')
  );
}

export function profileText(p: PbsProfile): string {
  const same = [p.a, p.r, p.s].every((d) => d === p.w);
  const lines = [`\n== ${p.name}${p.remoteMs > 0 ? ` (+${p.remoteMs} ms one way to a replica in another datacenter)` : ''}`];
  if (same) lines.push(`   W, A, R, S: ${describeDistribution(p.w)}`);
  else {
    lines.push(`   W: ${describeDistribution(p.w)}`);
    lines.push(`   A, R, S: ${describeDistribution(p.a)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function cellText(c: PbsCell): string {
  const width = Math.max(7, ...c.tMs.map((t) => ms(t).length + 1));
  const label = (s: string): string => padEnd(s, 18);
  const row = (name: string, ps: readonly number[], tv: string): string =>
    `${label(name)}${ps.map((x) => pad(prob(x), width)).join('')}  ${tv}`;
  const v = c.tVisibilityMs;
  const b = v.measuredBracketMs;
  const bracket = b === null ? `not reached by t=${ms(c.tMs[c.tMs.length - 1])}` : `(grid ${ms(b[0])}..${ms(b[1])})`;
  const lines = [
    `-- R=${c.r} W=${c.w}${c.r + c.w > PBS_N ? ' (R+W > N: strict quorum overlap)' : ''}`,
    `${label('t (ms)')}${c.tMs.map((t) => pad(ms(t), width)).join('')}  t@${PBS_TARGET_P * 100}% (ms)`,
    row(c.coordinator === 'any' ? 'measured (proxy)' : 'measured (sim)', c.measured, `${ms(v.measured)} ${bracket}`),
    row('WARS-local', c.warsLocal, ms(v.warsLocal)),
    row('WARS', c.wars, ms(v.wars)),
    `${label('closed form k=1')}${pad(prob(c.closedForm), width)}  at every t`,
  ];
  if (c.sim.lateReads > 0) lines.push(`!! ${c.sim.lateReads} reads were issued after their commit + t: measured is optimistic`);
  return `${lines.join('\n')}\n`;
}

export function summaryText(r: PbsReport): string {
  const head = ['profile', 'R/W', 'P0 sim', 'P0 local', 'P0 WARS', 'closed', 't99.9 sim', 't99.9 local', 't99.9 WARS'];
  const widths = [10, 5, 8, 9, 8, 7, 10, 12, 11];
  const line = (cols: string[]): string => cols.map((c, i) => (i < 2 ? padEnd(c, widths[i]) : pad(c, widths[i]))).join(' ');
  const rows = r.cells.map((c) => {
    const i0 = c.tMs.indexOf(0);
    const at0 = (ps: number[]): string => (i0 < 0 ? '-' : prob(ps[i0]));
    const v = c.tVisibilityMs;
    const ps = [at0(c.measured), at0(c.warsLocal), at0(c.wars), prob(c.closedForm)];
    return line([c.profile, `${c.r}/${c.w}`, ...ps, ms(v.measured), ms(v.warsLocal), ms(v.wars)]);
  });
  const s = r.sim;
  return [
    '',
    `== summary: P(consistent) at t=0 and t (ms) at which it reaches ${PBS_TARGET_P * 100}% ` +
      `(sim: ${r.trials} trials, models: ${r.modelTrials})`,
    line(head),
    ...rows,
    '',
    ...r.notes.map((n) => `note: ${n}`),
    '',
    `simulation: ${s.ops} operations (puts + gets) in ${(s.wallMs / 1000).toFixed(2)} s of wall time = ` +
      `${Math.round(s.opsPerSec)} ops/s; ${Math.round(s.eventsPerSec)} simulator events/s; models ${(r.modelWallMs / 1000).toFixed(2)} s`,
    '',
  ].join('\n');
}
