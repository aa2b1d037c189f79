// Latency of a client's completed operations, kept in HDR histograms (microseconds): what operators watch as read
// latency p99. The client coordinator in actors/ reports each completed operation to an OperationObserver; this is
// the runtime's observer, the same in both runtimes.

import * as hdr from 'hdr-histogram-js';
import type { OperationObserver } from '../../actors/coordinator/client-env.js';

/** Latency percentiles of one kind of operation on this client, in microseconds (0 when none yet). */
export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

const MAX_US = 3_600_000_000;

export class LatencyRecorder implements OperationObserver {
  private readonly read = histogram();
  private readonly write = histogram();

  completed(op: 'read' | 'write', latencyMs: number): void {
    (op === 'read' ? this.read : this.write).recordValue(Math.max(1, Math.min(MAX_US, Math.round(latencyMs * 1000))));
  }

  summary(): { read: LatencySummary; write: LatencySummary } {
    return { read: summarize(this.read), write: summarize(this.write) };
  }
}

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 2 });
}

function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50Us: 0, p99Us: 0, maxUs: 0 };
  return { count: h.totalCount, p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), maxUs: h.maxValue };
}
