// Chart specifications: plain JSON that the page's script (bench/report/browser.ts) turns into Chart.js charts.
//
// A chart is a <canvas data-chart=ID> in a <figure>; its spec goes into the page's <script id="chart-specs">. The
// node side decides everything a reader sees (axis ranges with a minimum span, so a chart of all-zero stale rates
// still has an axis from 0 to 1%, the marks and dashes that keep lines apart); the browser only draws.
//
// Use: const c = new Charts(); body += c.figure({ id: 'x', ... }); page(title, body, c.specs).
import { esc } from './escape.js';

export type YFormat = 'pct' | 'prob' | 'us' | 'int' | 'num';
export type PointStyle = 'circle' | 'triangle' | 'rect' | 'rectRot' | 'crossRot' | 'star' | 'cross' | 'line';

export interface SeriesSpec {
  name: string;
  /** categorical charts: one value per category (null: no value there); linear x: [x, y] points */
  data: Array<number | null> | Array<[number, number]>;
  color?: string;
  dash?: number[];
  point?: PointStyle;
  /** point radius; 0 draws the line only */
  radius?: number;
  /** false: points only */
  line?: boolean;
  width?: number;
}

export interface ChartSpec {
  id: string;
  title: string;
  kind: 'bar' | 'line';
  x: { title: string; categories?: string[]; min?: number; max?: number };
  y: { title: string; log?: boolean; min?: number; max?: number; format?: YFormat };
  series: SeriesSpec[];
  /** fault windows (x in the x axis's units) and instants; their labels are stacked so they never overlap */
  bands?: Array<{ from: number; to: number; label: string }>;
  vlines?: Array<{ x: number; label: string }>;
  /** write each bar's value above it */
  valueLabels?: boolean;
  /** draw the legend (above the plot, never on the data); default: when there is more than one series */
  legend?: boolean;
  width?: number;
  height?: number;
  /** a line under the chart, e.g. what an empty-looking chart means */
  note?: string;
}

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
export const POINTS: PointStyle[] = ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot', 'cross'];

/** Collects the charts of one page. */
export class Charts {
  readonly specs: ChartSpec[] = [];

  figure(spec: ChartSpec): string {
    if (this.specs.some((s) => s.id === spec.id)) throw new Error(`chart id ${spec.id} used twice on one page`);
    this.specs.push(spec);
    const w = spec.width ?? 520;
    const h = spec.height ?? 300;
    const note = spec.note === undefined ? '' : `<p class="chart-note">${esc(spec.note)}</p>`;
    return (
      `<figure class="chart"><figcaption>${esc(spec.title)}</figcaption>` +
      `<canvas data-chart="${esc(spec.id)}" width="${w}" height="${h}" role="img" aria-label="${esc(spec.title)}"></canvas>${note}</figure>`
    );
  }
}

/**
 * A y range that never collapses: from 0 (or `floor`) to at least `minSpan`, with headroom over the largest value.
 * Rates of 0 everywhere give 0 .. minSpan.
 */
export function rangeUp(values: number[], minSpan: number, ceiling = Infinity): { min: number; max: number } {
  const hi = Math.max(0, ...values.filter(Number.isFinite));
  return { min: 0, max: Math.min(ceiling, Math.max(minSpan, niceCeil(hi * 1.15))) };
}

/**
 * A range below a ceiling (availability, probabilities): up to `top`, down far enough to show the lowest value with
 * margin, and at least `minSpan` wide, in steps of `step`.
 */
export function rangeDown(values: number[], top: number, minSpan: number, step: number): { min: number; max: number } {
  const lo = Math.min(top, ...values.filter(Number.isFinite));
  const withMargin = lo - Math.max(step, (top - lo) * 0.15);
  const min = Math.max(0, Math.min(top - minSpan, Math.floor(withMargin / step + 1e-9) * step));
  return { min: Number(min.toFixed(10)), max: top };
}

/** 1, 2 or 5 times a power of ten, >= x. */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 0;
  const mag = Math.pow(10, Math.floor(Math.log10(x)));
  const m = [1, 2, 5, 10].find((k) => k * mag >= x * (1 - 1e-12)) ?? 10;
  return Number((m * mag).toPrecision(12));
}

/** A log axis from the power of ten at or below the smallest value to a 1-2-5 step above the largest: bars and
 * points never touch the top edge, and at least one labelled tick sits on each end. */
export function logRange(values: Array<number | null>): { min: number; max: number } {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  if (xs.length === 0) return { min: 1, max: 10 };
  const min = Math.pow(10, Math.floor(Math.log10(Math.min(...xs)) + 1e-9));
  return { min, max: Math.max(min * 2, niceCeil(Math.max(...xs) * 1.3)) };
}
