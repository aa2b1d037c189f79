// The latency of a client's completed operations, kept in HDR histograms (microseconds): what operators watch as read
// latency p99. The client coordinator in actors/ reports each completed operation to an OperationObserver; this is
// the runtime's observer, the same in both runtimes. Reading the histograms out is runtime/metrics/latency.ts.

import * as hdr from 'hdr-histogram-js';
import type { OperationObserver } from '../../actors/coordinator/client-env.js';
import { summarizeLatency, type LatencySummary } from '../metrics/latency.js';

export type { LatencySummary };

const MAX_US = 3_600_000_000;

export class LatencyRecorder implements OperationObserver {
  private readonly read = histogram();
  private readonly write = histogram();

  completed(op: 'read' | 'write', latencyMs: number): void {
    (op === 'read' ? this.read : this.write).recordValue(Math.max(1, Math.min(MAX_US, Math.round(latencyMs * 1000))));
  }

  /** Percentiles clamped to [min, max], and the buckets for Prometheus. */
  summary(): { read: LatencySummary; write: LatencySummary } {
    return { read: summarizeLatency(this.read), write: summarizeLatency(this.write) };
  }
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 2 });
}
