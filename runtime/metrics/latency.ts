// Reading latencies out of HDR histograms (hdr-histogram-js), in the two forms the project reports them:
//
//   percentileOf(h, p)       one percentile, clamped to what was recorded: HDR answers with the highest value of the
//                            bucket the percentile falls in, which can lie above the largest value recorded (a read
//                            p99 of 9215 us beside a max of 9199 us). Every percentile taken from an HDR histogram
//                            goes through here, so none is above the max or below the min.
//   latencyBuckets(h)        cumulative counts for fixed bucket bounds (LATENCY_BUCKETS_US), what a Prometheus
//                            histogram exposes, derived at scrape time from the HDR counts. A bound b counts every
//                            HDR bucket whose lowest value is <= b: exact when b is a bucket edge (every value below
//                            256 us is its own bucket), otherwise off by at most the observations within one HDR
//                            bucket of b (1% of b at 2 significant digits).
//   summarizeLatency(h)      the LatencySummary a client reports: count, p50, p99, max (microseconds) and the buckets.
//
// Only the JavaScript histograms (hdr.build's default, useWebAssembly false) expose their recorded values; the
// others are refused with an InvalidArgumentError that says so.
import type * as hdr from 'hdr-histogram-js';
import { InvalidArgumentError } from '../../actors/errors.js';

/** Upper bounds of the exported latency buckets, microseconds: 50 us .. 10 s, about 2.5x apart (+Inf is implied). */
export const LATENCY_BUCKETS_US: readonly number[] = [
  50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
  5_000_000, 10_000_000,
];

/** Cumulative bucket counts of one histogram: counts[i] observations were <= boundsUs[i]; count is the +Inf bucket. */
export interface LatencyBuckets {
  boundsUs: readonly number[];
  counts: number[];
  count: number;
  /** sum of the observations, microseconds (each taken at the middle of its HDR bucket: exact below 256 us) */
  sumUs: number;
}

/** Latency of one kind of operation, in microseconds (0 when none yet); percentiles lie within [min, max]. */
export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** cumulative counts for LATENCY_BUCKETS_US, for a Prometheus histogram */
  buckets: LatencyBuckets;
}

/** The value at percentile p (0..100) of h, never above the largest value recorded nor below the smallest; 0 when empty. */
export function percentileOf(h: hdr.Histogram, p: number): number {
  if (h.totalCount === 0) return 0;
  return Math.min(h.maxValue, Math.max(h.minNonZeroValue, h.getValueAtPercentile(p)));
}

interface IterationValue {
  valueIteratedTo: number;
  countAddedInThisIterationStep: number;
}

interface RecordedValues {
  recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): IterationValue };
  lowestEquivalentValue(value: number): number;
}

function recorded(h: hdr.Histogram): RecordedValues {
  const r = h as unknown as Partial<RecordedValues>;
  if (typeof r.recordedValuesIterator?.reset !== 'function' || typeof r.lowestEquivalentValue !== 'function') {
    throw new InvalidArgumentError('latencyBuckets needs a JavaScript HDR histogram (hdr.build without useWebAssembly): a WebAssembly one does not expose its counts');
  }
  return r as RecordedValues;
}

/** Cumulative counts of h's observations at each of boundsUs (ascending), for a Prometheus histogram. */
export function latencyBuckets(h: hdr.Histogram, boundsUs: readonly number[] = LATENCY_BUCKETS_US): LatencyBuckets {
  const counts = new Array<number>(boundsUs.length).fill(0);
  let sumUs = 0;
  if (h.totalCount > 0) {
    const r = recorded(h);
    const it = r.recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const v = it.next();
      const lowest = r.lowestEquivalentValue(v.valueIteratedTo);
      sumUs += ((lowest + v.valueIteratedTo) / 2) * v.countAddedInThisIterationStep;
      // the first bound this HDR bucket falls under; every later (cumulative) bound counts it too
      for (let i = 0; i < boundsUs.length; i++) {
        if (lowest <= boundsUs[i]) {
          counts[i] += v.countAddedInThisIterationStep;
          break;
        }
      }
    }
    for (let i = 1; i < counts.length; i++) counts[i] += counts[i - 1];
  }
  return { boundsUs, counts, count: h.totalCount, sumUs };
}

/** What a client reports for one kind of operation (client-core's latency()). */
export function summarizeLatency(h: hdr.Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50Us: percentileOf(h, 50),
    p99Us: percentileOf(h, 99),
    maxUs: h.totalCount === 0 ? 0 : h.maxValue,
    buckets: latencyBuckets(h),
  };
}
