// Small primitives the benchmarks share: a seeded PRNG and an HDR latency histogram in microseconds.
//
// (This file held the placeholder `leaderless bench`; the harness now lives in bench/run.ts and its neighbours. The
// two exports stay here because bench/compare.ts and bench/workloads.ts import them.)
import * as hdr from 'hdr-histogram-js';

/** mulberry32: a small seeded PRNG; the same seed gives the same stream, values in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latencies from 1 us to 60 s with 3 significant digits (HDR: bounded relative error, fixed memory). */
export function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}
