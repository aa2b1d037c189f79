// The shape of a result (every field's path and type, arrays by their first element), recorded per runtime by the
// scenario suite and compared across runtimes: the same interface must give the same fields in threads and the
// simulator, whatever the values.
import type { ClusterMetrics, HealthReport, RepairResult, SettleResult } from '../../runtime/api.js';
import type { RuntimeName } from './scenarios.js';

export interface Results {
  metrics: ClusterMetrics;
  health: HealthReport;
  settle: SettleResult;
  repair: RepairResult;
  /** metricsText(): compared by the metric names it exposes */
  text: string;
}

export type Shapes = Record<keyof Results, string[]>;

const seen: Partial<Record<RuntimeName, Shapes>> = {};

/** `path: type` for every field under `value`; `skip` names top-level fields left out. */
export function shapeOf(value: unknown, path = '', skip: readonly string[] = []): string[] {
  if (Array.isArray(value)) return value.length === 0 ? [`${path}: []`] : shapeOf(value[0], `${path}[]`);
  if (value === null) return [`${path}: null`];
  if (typeof value !== 'object') return [`${path}: ${typeof value}`];
  const out: string[] = [];
  for (const k of Object.keys(value).sort()) {
    if (path === '' && skip.includes(k)) continue;
    out.push(...shapeOf((value as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`));
  }
  return out;
}

/** The metric families a Prometheus text exposition declares (its # TYPE lines), as `name: type`. */
export function metricNames(text: string): string[] {
  return [...new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => `${l.split(' ')[2]}: ${l.split(' ')[3]}`))].sort();
}

/**
 * The fields in which two shapes differ. A field that is null or an empty array on one side (a value the interface
 * allows: no rebuild yet, no alerts) is compared with nothing below it on the other side.
 */
export function shapeDiff(a: string[], b: string[]): string[] {
  const map = (s: string[]): Map<string, string> => new Map(s.map((e) => [e.slice(0, e.lastIndexOf(': ')), e.slice(e.lastIndexOf(': ') + 2)]));
  const [ma, mb] = [map(a), map(b)];
  const open = (m: Map<string, string>, path: string): boolean => {
    for (let p = path; ; p = p.slice(0, Math.max(p.lastIndexOf('.'), p.lastIndexOf('['), 0))) {
      const t = m.get(p) ?? m.get(p.replace(/\[\]$/, ''));
      if (t === 'null' || t === '[]') return true;
      if (p === '') return false;
    }
  };
  const out: string[] = [];
  for (const path of new Set([...ma.keys(), ...mb.keys()])) {
    if (ma.get(path) === mb.get(path) || open(ma, path) || open(mb, path)) continue;
    out.push(`${path}: ${ma.get(path) ?? 'absent'} vs ${mb.get(path) ?? 'absent'}`);
  }
  return out;
}

export function recordShapes(runtime: RuntimeName, r: Results): void {
  seen[runtime] = {
    metrics: shapeOf(r.metrics, '', ['sim']),
    health: shapeOf(r.health),
    settle: shapeOf(r.settle),
    repair: shapeOf(r.repair),
    text: metricNames(r.text),
  };
}

export function shapesSeen(): Partial<Record<RuntimeName, Shapes>> {
  return seen;
}
