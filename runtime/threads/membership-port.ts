// Membership changes in the thread runtime (issue 12): the MembershipPort the shared control plane
// (runtime/host/membership-driver.ts) drives, and the cluster's addNode / removeNode / replaceNode / membership().
//
// What the port guarantees the driver (its header says why it needs each):
// - call() runs replica.membershipCall inside the worker, over the control port (comlink): out of band, so a paused
//   node answers too; undefined when the worker is not running or exits during the call.
// - A node that becomes running (a join, a supervisor restart, faults.restart) is at the latest published snapshot
//   before it counts as running: its worker data carries the snapshot published when it was built, and once it is
//   ready and linked, Wiring.catchUp syncs it to anything published since, before it is marked up.
// - isRunning() is false while a worker is being started, so the driver never races a start: the start syncs.
// - Clients: every client of this cluster (its own, cluster.client(), createHandle()) is told each published view;
//   those in this thread synchronously, those in other threads over their control port (in order, asynchronously).
// - A retired node's worker is stopped for good; its address (and its stores) stay reserved: ids are never reused.

import { InvalidArgumentError, StoppedError } from '../../actors/errors.js';
import type { MembershipCall, MembershipReply } from '../../actors/membership/calls.js';
import type { Membership } from '../../actors/membership/plan.js';
import { EMPTY_SNAPSHOT, membershipOf, type MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { NodeSpec, Ring } from '../../actors/ring.js';
import type { MembershipInfo } from '../api.js';
import { MAX_NODES, type ResolvedConfig } from '../config.js';
import { MembershipDriver, type MembershipChangeResult, type MembershipPort } from '../host/membership-driver.js';
import { joinChange, membershipInfo } from '../host/membership.js';
import { nowMs } from './clock.js';
import type { SharedView } from './shared-view.js';
import type { Supervisor } from './supervisor.js';
import type { ClientEntry, MembershipSource, Wiring } from './wiring.js';
import { control, ifThere, live, newSlot, terminate, type WorkerSlot } from './workers.js';

/** What the port acts on: the cluster's slots (it appends a joining node's), clients, view, supervisor and wiring. */
export interface PortTarget {
  hosts: WorkerSlot[];
  clients: ClientEntry[];
  view: SharedView;
  supervisor: Supervisor;
  config: ResolvedConfig;
  restartCounts: number[];
  /** the restart wiring (made after the port: it reads the published snapshot from it) */
  wiring(): Wiring;
  stopped(): boolean;
}

/** A joining worker that dies before it is ready is started again this many times before the join fails. */
const JOIN_ATTEMPTS = 3;

export class ThreadMembershipPort implements MembershipPort, MembershipSource {
  private snapshot: MembershipSnapshot = EMPTY_SNAPSHOT;
  /** the ring clients place keys on now (the cluster's replicasOf) */
  ring: Ring;

  constructor(
    private readonly t: PortTarget,
    private readonly base: Membership,
  ) {
    this.ring = base.ring;
  }

  /** the snapshot (re)starting workers are given, and synced to */
  published(): MembershipSnapshot {
    return this.snapshot;
  }

  /** the snapshot clients were last given (for a client made now) */
  clientView: MembershipSnapshot = EMPTY_SNAPSHOT;

  now(): number {
    return nowMs();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  isRunning(node: number): boolean {
    const h = this.t.hosts[node];
    return h !== undefined && !h.retired && live(h) && !h.restarting && h.starting === undefined;
  }

  async call(node: number, c: MembershipCall): Promise<MembershipReply | undefined> {
    if (!this.isRunning(node)) return undefined;
    const h = this.t.hosts[node];
    const reply = await ifThere(control(h, (x) => x.membership(c)));
    if (reply !== undefined && c.op === 'sync' && c.snapshot === this.snapshot) h.membership = c.snapshot;
    return reply;
  }

  /** Posts the call to every node before awaiting any reply: the window in which replicas disagree stays short. */
  async callAll(nodes: readonly number[], c: MembershipCall): Promise<void> {
    await Promise.all(nodes.map((n) => this.call(n, c)));
  }

  mailboxDepth(node: number): number {
    return this.t.view.depth(node);
  }

  publishNodes(snapshot: MembershipSnapshot): void {
    this.snapshot = snapshot;
  }

  publishClients(snapshot: MembershipSnapshot): void {
    this.ring = membershipOf(this.base, snapshot).ring;
    this.clientView = snapshot;
    // first in shared memory: a client in another thread reads no store directly until it has taken this snapshot
    // (its posted copy may lag), so it cannot read a replica that dropped a range it still thinks that replica owns
    this.t.view.publishMembership(snapshot.changes.length, snapshot.completed.length);
    for (const c of [...this.t.clients]) c.setMembership(snapshot);
  }

  /** Starts the joining node's worker in the next slot, linked to every live peer and client, supervised. */
  async spawn(spec: NodeSpec): Promise<void> {
    const t = this.t;
    const id = t.hosts.length;
    if (spec.id !== id) throw new Error(`internal: a joining node takes address ${id}; the plan gave ${spec.id}`);
    checkCapacity(t.config, id, 'spawn');
    const h = newSlot(t.config, id, []);
    t.hosts.push(h);
    t.restartCounts.push(0);
    t.supervisor.joining(id);
    t.view.setAddresses(id + 1);
    let error: unknown;
    for (let attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
      if (t.stopped()) throw new StoppedError('the cluster stopped while a node was joining');
      try {
        // once started, a crash is the supervisor's (restart policy); only a worker that never got ready is retried here
        return await t.wiring().restart(h, 'join');
      } catch (e) {
        error = e;
      }
    }
    throw error;
  }

  /** Stops the node's worker for good: no restart, Down; its address and stores stay (ids are never reused). */
  async retire(node: number): Promise<void> {
    const h = this.t.hosts[node];
    if (h === undefined || h.retired) return;
    h.retired = true;
    this.t.supervisor.retired(node);
    while (h.starting !== undefined) await h.starting.catch(() => undefined);
    await terminate(h);
    h.restarting = false;
    h.paused = false;
    this.t.view.setPaused(node, false);
  }

  stopped(): boolean {
    return this.t.stopped();
  }
}

/** A join needs a free address: ids are never reused, so maxNodes bounds joins plus the initial nodes. */
function checkCapacity(config: ResolvedConfig, addresses: number, call: string): void {
  if (addresses >= config.maxNodes) {
    throw new InvalidArgumentError(
      `${call}: every one of the cluster's ${config.maxNodes} node addresses is taken (maxNodes; ids are never reused, ` +
        `so nodes that left keep theirs); start the cluster with a larger maxNodes (at most ${MAX_NODES})`,
      { maxNodes: config.maxNodes },
    );
  }
}

/** The cluster's membership API over one MembershipDriver (one change at a time). */
export class ThreadMembership {
  readonly driver: MembershipDriver;

  constructor(
    readonly port: ThreadMembershipPort,
    base: Membership,
    private readonly config: ResolvedConfig,
    private readonly checkOpen: () => void,
  ) {
    this.driver = new MembershipDriver(base, port, {
      pollMs: Math.max(5, config.tickMs), maxStreamsPerNode: config.handoff.maxStreamsPerNode, maxNodes: config.maxNodes, beginGraceMs: 2 * config.tickMs,
    });
  }

  /** typed errors (options, datacenter, no free address) before anything changes; see runtime/host/membership.ts */
  async addNode(options?: { datacenter?: string; rack?: string }): Promise<MembershipChangeResult> {
    this.checkOpen();
    return this.driver.run((ring) => joinChange(ring, this.config, options));
  }

  async removeNode(node: number): Promise<MembershipChangeResult> {
    this.checkOpen();
    return this.driver.run({ type: 'leave', node }); // plan() refuses a node that is not a member, or a leave below N
  }

  async replaceNode(node: number): Promise<MembershipChangeResult> {
    this.checkOpen();
    const ring = this.driver.membership.ring;
    if (ring.isMember(node)) checkCapacity(this.config, ring.nodes.length, 'replaceNode');
    return this.driver.run({ type: 'replace', node });
  }

  info(): MembershipInfo {
    return membershipInfo(this.driver);
  }
}
