// The control plane of membership changes, the same in both runtimes (Riak's `cluster plan` / `commit`, with
// Cassandra's pending ranges): plan the change, bring every replica to the new epoch, stream each moving range from
// its old owner to its new one, complete ranges one by one (gaining and losing replicas first, then clients and
// everyone else: actors/membership/transition.ts says why that order keeps reads safe), and once every range is
// complete let replicas drop what they no longer own. A leaving node drains its hints before it stops.
//
// The runtime gives it a MembershipPort: calls into replica actors (out of band: they reach paused nodes), the
// snapshot store that (re)starting nodes are synced to, clients' views, and starting and stopping nodes.

import { InvalidArgumentError, StoppedError } from '../../actors/errors.js';
import type { MembershipCall, MembershipReply, StreamStatus } from '../../actors/membership/calls.js';
import type { HandoffStream } from '../../actors/membership/handoff-plan.js';
import { HandoffProgress } from '../../actors/membership/handoff-progress.js';
import { plan, type Membership, type MembershipChange, type Plan } from '../../actors/membership/plan.js';
import { EMPTY_SNAPSHOT, type MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { NodeSpec, Ring } from '../../actors/ring.js';

export interface MembershipPort {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** whether the node's actor runs now (a paused node's does) */
  isRunning(node: number): boolean;
  /** runs a call in the node's actor; undefined when it is not running or stopped during the call */
  call(node: number, call: MembershipCall): Promise<MembershipReply | undefined>;
  /**
   * runs one call in each of these nodes' actors, as close to at once as the runtime can (the simulator: in one
   * step; threads: all posted before any reply is awaited), so that the window in which replicas disagree on the
   * epoch, and an in-flight write may be refused, stays short; nodes not running are skipped
   */
  callAll(nodes: readonly number[], call: MembershipCall): Promise<void>;
  /** the snapshot nodes are synced to when they (re)start from now on */
  publishNodes(snapshot: MembershipSnapshot): void;
  /** every client's view (and the runtime's own ring for replicasOf) */
  publishClients(snapshot: MembershipSnapshot): void;
  /** starts a joining node's actor (publishNodes has the change already) */
  spawn(spec: NodeSpec): Promise<void>;
  /** stops a node that has left the ring, for good */
  retire(node: number): Promise<void>;
  /** whether the cluster is stopping */
  stopped(): boolean;
  /** messages sent to the node and not yet handled by it (its mailbox, and what is on the way) */
  mailboxDepth(node: number): number;
}

export interface MembershipChangeResult {
  /** the epoch the change led to */
  epoch: number;
  change: MembershipChange;
  /** the node that joined or left (for replace: the node replaced) */
  node: number;
  /** replace: the new node */
  replacement?: number;
  /** the ring's prediction: share of keys whose replica set changed, and share of (key, replica) assignments moved */
  movedFraction: number;
  assignmentsMovedFraction: number;
  ranges: number;
  streams: number;
  /** keys and estimated bytes acknowledged by gaining replicas, summed over every stream */
  keysMoved: number;
  bytesMoved: number;
  /** bytes put on the wire, resends included */
  bytesSent: number;
  resends: number;
  /** keys the losing replicas dropped once the change was done */
  keysDropped: number;
  durationMs: number;
}

/** A change in progress, for metrics and health. */
export interface HandoffStatus {
  epoch: number;
  change: MembershipChange;
  phase: 'begin' | 'streaming' | 'finishing';
  rangesTotal: number;
  rangesPending: number;
  streamsPending: number;
  bytesMoved: number;
  keysMoved: number;
  /** ms since any stream last made progress */
  stalledMs: number;
  startedMs: number;
}

export interface DriverOptions {
  /** how often the control plane polls streams (ms) */
  pollMs: number;
  /** streams one node sends at once */
  maxStreamsPerNode: number;
  /** node addresses the cluster may use (a join and a replace each take a new one: ids are never reused) */
  maxNodes: number;
  /**
   * how long streams wait after every replica has the new epoch: a write admitted under the old epoch just before
   * may still be on its way to a losing replica, which refuses it once its stream of the range has started
   */
  beginGraceMs: number;
}

export class MembershipDriver {
  private snapshotNow: MembershipSnapshot = EMPTY_SNAPSHOT;
  private membershipNow: Membership;
  private active: HandoffStatus | null = null;
  private readonly history: MembershipChangeResult[] = [];

  constructor(
    /** the cluster's first membership (epoch 1), which snapshots are replayed over */
    readonly base: Membership,
    private readonly port: MembershipPort,
    private readonly options: DriverOptions,
  ) {
    this.membershipNow = base;
  }

  get snapshot(): MembershipSnapshot {
    return this.snapshotNow;
  }

  get membership(): Membership {
    return this.membershipNow;
  }

  /** The change in progress, or null. */
  status(): HandoffStatus | null {
    return this.active === null ? null : { ...this.active, stalledMs: this.port.now() - this.lastProgressMs };
  }

  /** Every change done so far, oldest first. */
  changes(): readonly MembershipChangeResult[] {
    return this.history;
  }

  /**
   * Plans and runs one change to completion. One at a time: a second call while one runs is refused. `change` may be
   * a function of the current ring (addNode's defaults), called once no other change runs.
   */
  async run(change: MembershipChange | ((ring: Ring) => MembershipChange)): Promise<MembershipChangeResult> {
    if (this.active !== null) {
      throw new InvalidArgumentError(
        `a membership change (to epoch ${this.active.epoch}) is in progress; one change at a time: await it first`,
      );
    }
    const c = typeof change === 'function' ? change(this.membershipNow.ring) : change;
    const addresses = this.membershipNow.ring.nodes.length;
    if ((c?.type === 'join' || c?.type === 'replace') && addresses >= this.options.maxNodes) {
      throw new InvalidArgumentError(
        `${c.type === 'join' ? 'addNode' : 'replaceNode'}: the cluster has used all ${this.options.maxNodes} node addresses ` +
          `(maxNodes; ids are never reused, a replacement takes a new one): start it with a larger maxNodes`,
        { maxNodes: this.options.maxNodes },
      );
    }
    const p = plan(this.membershipNow, c); // typed errors for bad input, before anything changes
    const startedMs = this.port.now();
    this.lastProgressMs = startedMs;
    this.active = {
      epoch: p.to.epoch, change: c, phase: 'begin', rangesTotal: p.moving.length, rangesPending: p.moving.length,
      streamsPending: 0, bytesMoved: 0, keysMoved: 0, stalledMs: 0, startedMs,
    };
    try {
      return await this.execute(p, startedMs);
    } finally {
      this.active = null;
      this.ackedSeen.clear();
    }
  }

  private lastProgressMs = 0;
  /** keys each stream had acknowledged at the last poll (a stream that acknowledged more made progress) */
  private readonly ackedSeen = new Map<string, number>();

  private async execute(p: Plan, startedMs: number): Promise<MembershipChangeResult> {
    const before = { snapshot: this.snapshotNow, membership: this.membershipNow };
    this.snapshotNow = { changes: [...this.snapshotNow.changes, p.change], completed: [] };
    this.membershipNow = p.to;
    this.port.publishNodes(this.snapshotNow);
    const joining = p.change.type === 'join' ? p.node : p.replacement;
    if (joining !== undefined) {
      try {
        await this.port.spawn(p.to.ring.nodes[joining]);
      } catch (e) {
        // nothing has moved yet: the change is withdrawn (no replica or client was told of it)
        this.snapshotNow = before.snapshot;
        this.membershipNow = before.membership;
        this.port.publishNodes(before.snapshot);
        throw e;
      }
    }
    // every replica at the new epoch before any client is, and before any stream starts (epoch.ts, WIRING.md step 2)
    await this.syncAll(p.to.ring.nodes.map((n) => n.id));
    this.port.publishClients(this.snapshotNow);
    await this.port.sleep(this.options.beginGraceMs);
    this.active!.phase = 'streaming';
    // streams are planned as if every node were up: one whose source is down is planned again from the old replicas
    // that are up when the poll finds it so (or waits for one to come back), instead of failing the change
    const progress = new HandoffProgress(p, () => true);
    const totals = { keysMoved: 0, bytesMoved: 0, bytesSent: 0, resends: 0, streams: 0 };
    await this.complete(p, progress.plan.moving.filter((r) => progress.isComplete(r.id)).map((r) => r.id));
    const started = new Map<string, HandoffStream>();
    while (progress.rangesPending > 0) {
      this.checkStopped();
      await this.startStreams(progress, started);
      const done = await this.poll(progress, started, totals);
      await this.complete(p, done);
      this.active!.rangesPending = progress.rangesPending;
      this.active!.streamsPending = progress.streamsPending;
      if (progress.rangesPending > 0) await this.port.sleep(this.options.pollMs);
    }
    this.active!.phase = 'finishing';
    // every party knows every range is complete: losing replicas may now drop what they lost
    this.snapshotNow = { ...this.snapshotNow, settled: true };
    this.port.publishNodes(this.snapshotNow);
    this.port.publishClients(this.snapshotNow);
    await this.syncAll(p.to.ring.nodes.map((n) => n.id));
    const keysDropped = await this.finish(p);
    const result: MembershipChangeResult = {
      epoch: p.to.epoch, change: p.change, node: p.node, ...(p.replacement === undefined ? {} : { replacement: p.replacement }),
      movedFraction: p.movedFraction, assignmentsMovedFraction: p.assignmentsMovedFraction, ranges: p.moving.length,
      streams: totals.streams, keysMoved: totals.keysMoved, bytesMoved: totals.bytesMoved, bytesSent: totals.bytesSent,
      resends: totals.resends, keysDropped, durationMs: this.port.now() - startedMs,
    };
    this.history.push(result);
    return result;
  }

  /** Starts open streams whose source runs, at most maxStreamsPerNode at a time per source. */
  private async startStreams(progress: HandoffProgress, started: Map<string, HandoffStream>): Promise<void> {
    const open = progress.streams();
    const busy = new Map<number, number>();
    for (const s of open) if (started.has(streamKey(s))) busy.set(s.source, (busy.get(s.source) ?? 0) + 1);
    for (const s of open) {
      const key = streamKey(s);
      if (started.has(key) || !this.port.isRunning(s.source)) continue;
      if ((busy.get(s.source) ?? 0) >= this.options.maxStreamsPerNode) continue;
      if ((await this.port.call(s.source, { op: 'stream', stream: s })) === undefined) continue;
      started.set(key, s);
      busy.set(s.source, (busy.get(s.source) ?? 0) + 1);
    }
  }

  /**
   * Asks the sources of open streams how they are doing. A source that is down has its streams planned again from
   * the old replicas still up; one that restarted (its senders died with it) is asked to stream again.
   */
  private async poll(
    progress: HandoffProgress,
    started: Map<string, HandoffStream>,
    totals: { keysMoved: number; bytesMoved: number; bytesSent: number; resends: number; streams: number },
  ): Promise<number[]> {
    const completed: number[] = [];
    const sources = new Set(progress.streams().map((s) => s.source));
    for (const source of sources) {
      const reply = this.port.isRunning(source) ? await this.port.call(source, { op: 'status' }) : undefined;
      if (reply === undefined) {
        // A node leaving, or one that loses ranges to a joining node, holds writes no other replica may have (one
        // acknowledged at W=1): its streams wait for it to come back. Only the node a replace removes is rebuilt from
        // the surviving replicas (its disk is taken to be gone: what it alone held is lost, as with a wipe).
        if (!(progress.plan.change.type === 'replace' && source === progress.plan.node)) continue;
        const others = (s: HandoffStream): boolean => progress.plan.moving[s.rangeId].oldReplicas.some((n) => n !== source && this.port.isRunning(n));
        if (!progress.streams().filter((s) => s.source === source).every(others)) continue; // wait for it to return
        for (const s of progress.streams()) if (s.source === source) started.delete(streamKey(s));
        completed.push(...progress.sourceDown(source, (n) => this.port.isRunning(n)).completed);
        continue;
      }
      const byKey = new Map<string, StreamStatus>(reply.streams.map((st) => [streamKey(st.stream), st]));
      for (const s of progress.streams()) {
        if (s.source !== source) continue;
        const st = byKey.get(streamKey(s));
        if (st === undefined) {
          started.delete(streamKey(s)); // the source restarted: its sender is gone, start it again
          continue;
        }
        const key = streamKey(s);
        if (st.stats.keysAcked > (this.ackedSeen.get(key) ?? 0)) this.lastProgressMs = this.port.now();
        this.ackedSeen.set(key, st.stats.keysAcked);
        if (!st.done) continue;
        totals.streams++;
        totals.keysMoved += st.stats.keysAcked;
        totals.bytesMoved += st.stats.bytesAcked;
        totals.bytesSent += st.stats.bytesSent;
        totals.resends += st.stats.resends;
        this.active!.keysMoved = totals.keysMoved;
        this.active!.bytesMoved = totals.bytesMoved;
        this.lastProgressMs = this.port.now();
        const r = progress.streamDone(s);
        if (r !== undefined) completed.push(r);
      }
    }
    return completed;
  }

  /** Completes ranges: at their gaining and losing replicas first, then clients, then every other replica. */
  private async complete(p: Plan, rangeIds: number[]): Promise<void> {
    if (rangeIds.length === 0) return;
    this.snapshotNow = { changes: this.snapshotNow.changes, completed: [...this.snapshotNow.completed, ...rangeIds] };
    this.port.publishNodes(this.snapshotNow);
    const first = new Set<number>();
    for (const id of rangeIds) for (const n of [...p.moving[id].gaining, ...p.moving[id].losing]) first.add(n);
    await this.syncAll([...first]);
    this.port.publishClients(this.snapshotNow);
    await this.syncAll(p.to.ring.nodes.map((n) => n.id).filter((n) => !first.has(n)));
  }

  /** Every range is complete: the last sync told replicas to drop what they lost; a leaving node drains and stops. */
  private async finish(p: Plan): Promise<number> {
    const gone = p.change.type === 'join' ? undefined : p.node;
    // A leaving node stops only once idle: its hints delivered to their owners or handed to other members (for
    // owners that are down), and the writes it coordinates finished. One that is down is waited for: its persisted
    // hints may hold acknowledged writes. Only a replace gives up on a node that is down (its disk is taken as gone).
    if (gone !== undefined && (p.change.type === 'leave' || this.port.isRunning(gone))) {
      const members = p.to.ring.memberIds();
      for (;;) {
        this.checkStopped();
        const r = this.port.isRunning(gone) ? await this.port.call(gone, { op: 'transfer-hints', to: members }) : undefined;
        if (r === undefined && p.change.type === 'replace') break;
        const idle = r !== undefined && r.hintsHeld === 0 && r.pendingPuts === 0 && this.port.mailboxDepth(gone) === 0;
        if (idle) break;
        await this.port.sleep(this.options.pollMs);
      }
    }
    let dropped = 0;
    for (const n of p.to.ring.nodes) {
      if (!this.port.isRunning(n.id)) continue;
      dropped += (await this.port.call(n.id, { op: 'status' }))?.keysDropped ?? 0;
    }
    if (gone !== undefined) await this.port.retire(gone);
    return dropped;
  }

  /** Syncs every running node of these to the snapshot (a node that starts later is synced to the published one). */
  private async syncAll(nodes: number[]): Promise<void> {
    await this.port.callAll(nodes, { op: 'sync', snapshot: this.snapshotNow });
  }

  private checkStopped(): void {
    if (this.port.stopped()) throw new StoppedError('the cluster stopped during a membership change');
  }
}

const streamKey = (s: { rangeId: number; source: number; target: number }): string => `${s.rangeId}:${s.source}>${s.target}`;
