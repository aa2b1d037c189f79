// The thread runtime's faults: the vocabulary of runtime/api.ts carried out with worker threads and the SharedView
// (partitions, delays and drops are link flags in shared memory that every sender reads; kill terminates a worker,
// which the supervisor restarts unless told to hold it down; pause stops a worker's mailbox over the control plane).

import { InvalidArgumentError } from '../../actors/errors.js';
import type { Faults, NodeEvent } from '../api.js';
import type { ResolvedConfig } from '../config.js';
import { checkDropProbability, checkGroups, checkKillOptions, linksOf } from '../host/faults.js';
import { nowMs } from './clock.js';
import { DelayKind, encodeDelay } from './link-delay.js';
import type { SharedView } from './shared-view.js';
import type { Supervisor } from './supervisor.js';
import type { Wiring } from './wiring.js';
import { answered, control, terminate, type WorkerSlot } from './workers.js';

/** What the faults act on: the cluster's workers, shared view, supervisor and restart wiring. */
export interface FaultTarget {
  hosts: WorkerSlot[];
  view: SharedView;
  supervisor: Supervisor;
  config: ResolvedConfig;
  wiring: Wiring;
  checkOpen(): void;
  checkNode(node: unknown): asserts node is number;
}

export class ThreadFaults implements Faults {
  constructor(private readonly c: FaultTarget) {}

  readonly kill: Faults['kill'] = (node, options = {}) => this.killNode(node, checkKillOptions(options));
  readonly crash: Faults['crash'] = (node, options = {}) => this.killNode(node, { ...checkKillOptions(options, 'crash'), stayDown: false });
  readonly restart: Faults['restart'] = async (node) => {
    this.c.checkOpen();
    this.c.checkNode(node);
    const h = this.c.hosts[node];
    h.holdDown = false;
    while (h.starting !== undefined) await h.starting.catch(() => undefined);
    if (!h.exited || h.restarting) return;
    h.gaveUp = false;
    await this.c.wiring.restart(h);
  };
  readonly pause: Faults['pause'] = (node) => this.pauseNode(node);
  readonly resume: Faults['resume'] = (node) => this.resumeNode(node);
  readonly partition: Faults['partition'] = (groups) => {
    this.c.checkOpen();
    const group = new Map<number, number>();
    checkGroups(groups, (x) => this.c.checkNode(x)).forEach((g, gi) => g.forEach((node) => group.set(node, gi)));
    const n = this.c.view.addresses;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) this.c.view.setBlocked(a, b, (group.get(a) ?? -1 - a) !== (group.get(b) ?? -1 - b));
    }
  };
  readonly heal: Faults['heal'] = () => {
    this.c.checkOpen();
    const n = this.c.view.addresses;
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) this.c.view.setBlocked(a, b, false);
  };
  readonly delay: Faults['delay'] = (spec) => {
    this.c.checkOpen();
    // a number of ms, or a distribution sampled per message (link-delay.ts says which kinds)
    const d = encodeDelay((spec as { ms?: unknown } | null)?.ms);
    for (const [from, to] of this.linksOf(spec, 'delay', 'ms')) this.c.view.setDelay(from, to, d.kind, d.a, d.b);
    this.c.view.setImpaired(true);
  };
  readonly drop: Faults['drop'] = (spec) => {
    this.c.checkOpen();
    const ppm = Math.round(checkDropProbability(spec?.probability) * 1e6);
    for (const [from, to] of this.linksOf(spec, 'drop', 'probability')) this.c.view.setDropPpm(from, to, ppm);
    this.c.view.setImpaired(true);
  };
  readonly clear: Faults['clear'] = async () => {
    this.heal();
    for (const [from, to] of this.linksOf({}, 'clear', '')) {
      this.c.view.setDelay(from, to, DelayKind.None, 0, 0);
      this.c.view.setDropPpm(from, to, 0);
    }
    this.c.view.setImpaired(false);
    for (const h of this.c.hosts) if (h.paused && !h.retired) await this.resumeNode(h.node);
    for (const h of this.c.hosts) if (h.holdDown && !h.retired) await this.restart(h.node);
  };
  
  /**
   * The worker dies; unless stayDown, the supervisor restarts it and it re-attaches to its store (crash-recovery); with
   * wipe it comes back with an empty store (a replaced disk) under a new DVV id. During a restart, the worker being
   * started is the one that dies (after it is up), so the wipe happens all the same.
   */
  private async killNode(node: number, o: { wipe: boolean; stayDown: boolean }): Promise<void> {
    this.c.checkOpen();
    this.c.checkNode(node);
    const h = this.c.hosts[node];
    // a restart in progress has already chosen whether to wipe: let it finish, then kill the worker it started
    while (h.starting !== undefined) await h.starting.catch(() => undefined);
    if (o.wipe) {
      if (h.gaveUp && !o.stayDown) {
        throw new InvalidArgumentError(
          `node ${node} cannot be wiped: the restart policy gave up on it (restart.maxRestarts), so it never starts again; use faults.restart(${node})`,
        );
      }
      h.wipeOnRestart = true;
    }
    if (o.stayDown) h.holdDown = true;
    await terminate(h);
  }

  /** The actor stops processing its mailbox and stops heartbeating; messages wait, bounded by the mailbox. */
  private async pauseNode(node: number): Promise<void> {
    this.c.checkOpen();
    this.c.checkNode(node);
    const h = this.c.hosts[node];
    if (h.exited || h.paused) return;
    this.c.view.setPaused(node, true); // before the actor stops: no client reads its store directly from now on
    if (!(await answered(control(h, (c) => c.pause())))) return; // it went away: it restarts unpaused
    h.paused = true;
    this.c.supervisor.emit('node-paused', { node, atMs: nowMs() } satisfies NodeEvent);
  }

  private async resumeNode(node: number): Promise<void> {
    this.c.checkOpen();
    this.c.checkNode(node);
    const h = this.c.hosts[node];
    if (h.exited || !h.paused) return;
    if (!(await answered(control(h, (c) => c.resume())))) return; // it went away: it restarts unpaused
    h.paused = false;
    this.c.view.setPaused(node, false);
    this.c.supervisor.emit('node-resumed', { node, atMs: nowMs() } satisfies NodeEvent);
  }

  /**
   * The directed links (row, to) a delay or drop names, among the addresses in use; the view's last row (maxNodes)
   * is clients placed near no node.
   */
  private linksOf(spec: unknown, call: string, valueKey: string): Array<[number, number]> {
    const extra = new Set(valueKey === '' ? [] : [valueKey]);
    return linksOf(spec, extra, call, this.c.view.addresses, (x) => this.c.checkNode(x), this.c.view.nodes);
  }
}
