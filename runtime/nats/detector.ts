// Failure detection over NATS: every replica publishes a heartbeat ({ node, inc }) on the cluster's heartbeat
// subject every failureDetector.sampleMs; every replica and every client subscribes and feeds a phi accrual detector
// per node (actors/failure-detector.ts), as the thread runtime's supervisor does with the heartbeat counters in shared
// memory. phi >= threshold is Down, >= threshold / 2 Suspect, else Up. `inc` names the replica's incarnation (a new
// one per serving process start): a changed `inc` is a restarted peer, whose links start afresh.

import { PhiAccrualDetector, type PhiParams } from '../../actors/failure-detector.js';
import type { DetectorOptions } from '../../actors/supervision.js';
import type { ClusterEvent } from '../api.js';

export type Status = 'up' | 'suspect' | 'down';

export interface Heartbeat {
  node: number;
  inc: string;
}

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(h));
}

/** A heartbeat from the wire, or undefined for anything malformed (never trusted to be well formed). */
export function decodeHeartbeat(data: Uint8Array, nodes: number): Heartbeat | undefined {
  try {
    const h = JSON.parse(new TextDecoder().decode(data)) as Partial<Heartbeat>;
    if (!Number.isInteger(h.node) || (h.node as number) < 0 || (h.node as number) >= nodes || typeof h.inc !== 'string') return undefined;
    return h as Heartbeat;
  } catch {
    return undefined;
  }
}

export interface StatusChange {
  node: number;
  event: ClusterEvent;
}

export class HeartbeatDetector {
  private readonly detectors: PhiAccrualDetector[];
  private readonly statuses: Status[];
  private readonly incarnations: Array<string | undefined>;
  private readonly params: Partial<PhiParams>;
  private version = 0;

  constructor(
    readonly nodes: number,
    private readonly options: DetectorOptions,
    startMs: number,
    /** a node that is always up to this detector (a replica's own node) */
    private readonly self = -1,
  ) {
    this.params = {
      threshold: options.threshold,
      minStdDeviationMs: options.minStdDeviationMs,
      acceptableHeartbeatPauseMs: options.acceptableHeartbeatPauseMs,
      firstHeartbeatEstimateMs: options.sampleMs,
    };
    this.detectors = Array.from({ length: nodes }, () => new PhiAccrualDetector(this.params));
    for (const d of this.detectors) d.heartbeat(startMs);
    this.statuses = Array.from({ length: nodes }, () => 'up' as Status);
    this.incarnations = Array.from({ length: nodes }, () => undefined);
  }

  /** A heartbeat arrived; true when it comes from a new incarnation of a node heard from before (a restart). */
  beat(h: Heartbeat, nowMs: number): boolean {
    const before = this.incarnations[h.node];
    this.incarnations[h.node] = h.inc;
    if (before !== undefined && before !== h.inc) {
      // a new process: old intervals say nothing about it
      this.detectors[h.node] = new PhiAccrualDetector(this.params);
    }
    this.detectors[h.node].heartbeat(nowMs);
    return before !== undefined && before !== h.inc;
  }

  /** Statuses now; returns what changed, as the events the cluster API names. */
  sample(nowMs: number): StatusChange[] {
    const changes: StatusChange[] = [];
    for (let node = 0; node < this.nodes; node++) {
      const phi = node === this.self ? 0 : this.detectors[node].phi(nowMs);
      const t = this.options.threshold;
      const status: Status = phi >= t ? 'down' : phi >= t / 2 ? 'suspect' : 'up';
      if (status === this.statuses[node]) continue;
      this.statuses[node] = status;
      this.version++;
      changes.push({ node, event: status === 'up' ? 'node-up' : status === 'down' ? 'node-down' : 'node-suspect' });
    }
    return changes;
  }

  status(node: number): Status {
    return this.statuses[node];
  }

  isUp(node: number): boolean {
    return this.statuses[node] !== 'down';
  }

  statusVersion(): number {
    return this.version;
  }

  /** The nodes down now. */
  down(into: number[] = []): number[] {
    into.length = 0;
    for (let i = 0; i < this.nodes; i++) if (this.statuses[i] === 'down') into.push(i);
    return into;
  }
}
