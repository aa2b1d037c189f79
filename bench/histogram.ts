// The harness's one latency histogram: HDR (bounded relative error, fixed memory) in microseconds, from 1 µs to 60 s
// with 3 significant digits. Every benchmark in bench/ records through it, so their percentiles are comparable.
//
// Use: const h = latencyHistogram(); recordMs(h, t1 - t0); const s = latencySummary(h);
import * as hdr from 'hdr-histogram-js';

/** The one HDR configuration of the harness. */
export const HISTOGRAM_CONFIG = Object.freeze({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 60_000_000,
  numberOfSignificantValueDigits: 3,
} as const);

export type LatencyHistogram = hdr.Histogram;

export function latencyHistogram(): LatencyHistogram {
  return hdr.build({ ...HISTOGRAM_CONFIG });
}

/** Records a duration given in milliseconds (fractions allowed) as whole microseconds, at least 1. */
export function recordMs(h: LatencyHistogram, ms: number): void {
  h.recordValue(Math.min(HISTOGRAM_CONFIG.highestTrackableValue, Math.max(1, Math.round(ms * 1000))));
}

export interface LatencyUs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * Percentiles, maximum and mean in microseconds (all 0 when nothing was recorded). HDR reports a percentile as the
 * top of its bucket, which can exceed the largest value recorded: percentiles are capped at the maximum.
 */
export function latencySummary(h: LatencyHistogram): LatencyUs {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const max = h.maxValue;
  const at = (p: number): number => Math.min(max, h.getValueAtPercentile(p));
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max, mean: Math.round(h.mean) };
}
