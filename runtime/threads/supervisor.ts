// The supervisor: failure detection and the restart policy, on the main thread.
//
// Detection: every replica increments its heartbeat counter in the SharedView on each tick. The supervisor samples
// the counters every `sampleMs`; a counter that moved is a heartbeat arrival for that node's phi accrual detector
// (actors/failure-detector.ts). phi >= threshold marks the node Down, phi >= threshold / 2 Suspect, less Up. The
// status goes into the SharedView, which every coordinator (in any thread) reads per request: no message needed.
// A worker that exits is Down at once, without waiting for phi.
//
// Restarts: one-for-one. A crashed worker is restarted after `delayMs`, at most `maxRestarts` times within
// `withinMs`; past that the node stays down and a `node-given-up` event says so.
//
// Membership: the view has a slot for every address the cluster can ever have (config.maxNodes); only addresses in
// use are sampled. A joining node is not the detector's until it is running and synced (joined); a node that left
// (retired) is Down for good.

import { EventEmitter } from 'node:events';
import { PhiAccrualDetector, type PhiParams } from '../../actors/failure-detector.js';
import { RestartPolicy, type DetectorOptions, type RestartOptions } from '../../actors/supervision.js';
import { NodeStatus, type SharedView } from './shared-view.js';
import { nowMs } from './clock.js';
import type { ClusterEvent, NodeEvent } from '../api.js';

export class Supervisor extends EventEmitter {
  private readonly detectors: PhiAccrualDetector[];
  private readonly lastBeat: number[];
  /** nodes whose worker is gone (restarting, given up, retired) or not yet joined: not the detector's to change */
  private readonly dead = new Set<number>();
  /** nodes that left the cluster: never restarted, never up again */
  private readonly gone = new Set<number>();
  private readonly policy: RestartPolicy;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly phiParams: Partial<PhiParams>;

  constructor(
    private readonly view: SharedView,
    readonly detector: DetectorOptions,
    readonly restart: RestartOptions,
  ) {
    super();
    const n = view.nodes;
    this.phiParams = {
      threshold: detector.threshold,
      minStdDeviationMs: detector.minStdDeviationMs,
      acceptableHeartbeatPauseMs: detector.acceptableHeartbeatPauseMs,
      firstHeartbeatEstimateMs: detector.sampleMs,
    };
    this.detectors = Array.from({ length: n }, () => new PhiAccrualDetector(this.phiParams));
    this.lastBeat = Array.from({ length: n }, (_, i) => view.heartbeat(i));
    this.policy = new RestartPolicy(restart, n);
  }

  start(): void {
    const t = nowMs();
    for (const d of this.detectors) d.heartbeat(t);
    this.timer = setInterval(() => this.sample(nowMs()), this.detector.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sampling round: heartbeats in, statuses out. */
  sample(now: number): void {
    const addresses = Math.min(this.view.addresses, this.detectors.length);
    for (let node = 0; node < addresses; node++) {
      if (this.dead.has(node)) continue;
      const beat = this.view.heartbeat(node);
      if (beat !== this.lastBeat[node]) {
        this.lastBeat[node] = beat;
        this.detectors[node].heartbeat(now);
      }
      const phi = this.detectors[node].phi(now);
      const status = phi >= this.detector.threshold ? NodeStatus.Down : phi >= this.detector.threshold / 2 ? NodeStatus.Suspect : NodeStatus.Up;
      this.transition(node, status, now);
    }
  }

  /** A joining node's address is taken: Down (no event) until joined() says it is running and synced. */
  joining(node: number): void {
    this.dead.add(node);
    this.view.setStatus(node, NodeStatus.Down);
  }

  /** A joined node is running at the current membership: detection starts, and it is Up (node-up). */
  joined(node: number): void {
    this.detectAfresh(node, nowMs());
  }

  /** Detection of the node starts afresh (a new detector, so old intervals do not count), and it is Up. */
  private detectAfresh(node: number, now: number): void {
    this.dead.delete(node);
    this.detectors[node] = new PhiAccrualDetector(this.phiParams);
    this.detectors[node].heartbeat(now);
    this.lastBeat[node] = this.view.heartbeat(node);
    this.transition(node, NodeStatus.Up, now);
  }

  /** The node left the cluster: Down for good, no restart (its worker is stopped by the caller). */
  retired(node: number): void {
    this.dead.add(node);
    this.gone.add(node);
    this.transition(node, NodeStatus.Down, nowMs());
  }

  /** Whether the node left the cluster (retired). */
  isRetired(node: number): boolean {
    return this.gone.has(node);
  }

  /** The node's worker exited: Down now. Returns whether the restart policy allows another restart. */
  crashed(node: number, reason: string): boolean {
    const now = nowMs();
    this.dead.add(node);
    this.transition(node, NodeStatus.Down, now);
    this.emit('node-crashed', { node, atMs: now, reason } satisfies NodeEvent);
    const decision = this.policy.crashed(node, now);
    if (!decision.restart) {
      this.emit('node-given-up', { node, atMs: now, reason: decision.reason } satisfies NodeEvent);
      return false;
    }
    return true;
  }

  /** The node's worker exited and is held down (faults.kill with stayDown): Down now, no restart counted. */
  heldDown(node: number, reason: string): void {
    const now = nowMs();
    this.dead.add(node);
    this.transition(node, NodeStatus.Down, now);
    this.emit('node-crashed', { node, atMs: now, reason } satisfies NodeEvent);
  }

  /** The node's worker is running again: detection starts afresh (a new detector, so old intervals do not count). */
  restarted(node: number): void {
    if (this.gone.has(node)) return;
    const now = nowMs();
    this.detectAfresh(node, now);
    this.emit('node-restarted', { node, atMs: now } satisfies NodeEvent);
  }

  private transition(node: number, status: NodeStatus, now: number): void {
    const before = this.view.status(node);
    if (before === status) return;
    this.view.setStatus(node, status);
    const event: ClusterEvent = status === NodeStatus.Up ? 'node-up' : status === NodeStatus.Suspect ? 'node-suspect' : 'node-down';
    this.emit(event, { node, atMs: now } satisfies NodeEvent);
  }
}
