// Restart wiring of the thread runtime. A worker's MessagePorts die with it, so a restarted replica, once ready, gets
// a fresh channel to every live peer (both ends sent with replacePeer) and to every client (sent to the client with
// replacePort, or over the client's control port). Each slot and client records which nodes it is linked with, so
// that two nodes that come back together are linked by whichever is ready second, once. The supervisor decides
// whether a crashed worker is restarted (actors/supervision.ts); this file carries it out.

import * as Comlink from 'comlink';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Address } from '../../actors/protocol.js';
import { replicaIdOf } from '../host/replica-host.js';
import type { ResolvedConfig } from '../config.js';
import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { StoreBuffers } from '../host/store.js';
import type { SharedView } from './shared-view.js';
import type { Supervisor } from './supervisor.js';
import { NodeGoneError, control, ifThere, live, release, spawn, terminate, type WorkerSlot } from './workers.js';

/** A client the cluster must tell about restarted replicas. */
export interface ClientEntry {
  address: Address;
  /** nodes whose current worker has a channel to this client */
  linked: Set<number>;
  /** a port to node's worker (restarted, or joined: then `store` is its shared store, for reads without a message) */
  replace(node: number, port: MessagePort, incarnation: number, store?: StoreBuffers): void;
  /** the client's view of the membership (publishClients) */
  setMembership(snapshot: MembershipSnapshot): void;
}

/** How a starting worker learns the membership: the snapshot published now, and a sync call to a newer one. */
export interface MembershipSource {
  published(): MembershipSnapshot;
}

export class Wiring {
  constructor(
    private readonly hosts: WorkerSlot[],
    readonly clients: ClientEntry[],
    private readonly view: SharedView,
    private readonly supervisor: Supervisor,
    private readonly config: ResolvedConfig,
    readonly restartCounts: number[],
    private readonly membership: MembershipSource,
  ) {}

  /** Restarts a worker that exited, unless the cluster is stopping or the restart policy gives up. */
  watch(h: WorkerSlot): void {
    const worker = h.worker!;
    let reason = 'exited';
    worker.once('error', (e: Error) => {
      reason = `threw ${e.name}: ${e.message}`;
    });
    worker.once('exit', (code) => {
      h.exited = true;
      h.paused = false;
      this.view.setPaused(h.node, false);
      release(h, new NodeGoneError(h.node));
      this.unlink(h);
      if (this.view.stopped || h.retired) return;
      if (h.holdDown) return void this.supervisor.heldDown(h.node, `${reason} (exit code ${code}); held down until faults.restart(${h.node})`);
      this.scheduleRestart(h, `${reason} (exit code ${code})`);
    });
  }

  /** One-for-one: restart the node after delayMs unless the intensity limit says it stays down. */
  private scheduleRestart(h: WorkerSlot, reason: string): void {
    if (!this.supervisor.crashed(h.node, reason)) {
      h.gaveUp = true;
      return;
    }
    h.restarting = true;
    setTimeout(() => {
      this.restart(h).catch((e: Error) => {
        // the new worker died before it was ready: that is one more crash for the restart policy to count
        h.exited = true;
        if (!this.view.stopped) this.scheduleRestart(h, `restart failed: ${e.message}`);
      });
    }, this.config.restart.delayMs);
  }

  /**
   * Starts node h's worker again (h.starting while it runs): `counted` is a supervisor restart, 'join' a joining
   * node's first start, false a worker that died before the cluster was started.
   */
  restart(h: WorkerSlot, counted: boolean | 'join' = true): Promise<void> {
    const starting = this.startAgain(h, counted);
    h.starting = starting;
    const done = (): void => {
      if (h.starting === starting) h.starting = undefined;
    };
    starting.then(done, done);
    return starting;
  }

  private async startAgain(h: WorkerSlot, counted: boolean | 'join'): Promise<void> {
    if (this.view.stopped || h.retired) return;
    const wipe = h.wipeOnRestart;
    if (wipe) {
      h.wipes++;
      h.replicaId = replicaIdOf(h.node, h.wipes);
    }
    this.unlink(h);
    // what was posted to the old worker is gone with it; senders still holding its ports no longer count
    this.view.resetDepth(h.node, this.view.bumpIncarnation(h.node));
    await spawn(h, this.config, this.view, [], this.membership.published());
    if (wipe) h.wipeOnRestart = false; // no crash sets it while a restart runs: it waits for the restart
    this.watch(h);
    if (this.view.stopped || h.retired) {
      await terminate(h);
      return;
    }
    const worker = h.worker;
    await this.link(h);
    await this.catchUp(h);
    h.restarting = false;
    if (counted === true) this.restartCounts[h.node]++;
    // it died while being linked: its exit has already scheduled the next restart
    if (h.exited || h.worker !== worker) return;
    if (counted === true) this.supervisor.restarted(h.node);
    else if (counted === 'join') this.supervisor.joined(h.node);
  }

  /**
   * A started worker is at the membership published when its worker data was built; the control plane may have
   * published since (it does not call a node that is starting): sync it until it is at the latest. No await between
   * the last check and the caller marking it up, so nothing published meanwhile is missed.
   */
  private async catchUp(h: WorkerSlot): Promise<void> {
    while (h.membership !== this.membership.published() && live(h)) {
      const snapshot = this.membership.published();
      const reply = await ifThere(control(h, (c) => c.membership({ op: 'sync', snapshot })));
      if (reply === undefined) return; // it died: its next start is given the published snapshot
      h.membership = snapshot;
    }
  }

  /**
   * Gives node h's worker (just started) a fresh channel to every live peer and every client it has none with.
   * Synchronous up to the hand-overs, so that of two nodes starting together, whichever is ready second links the
   * pair, exactly once. Resolves when every end is handed over (or its worker went away: its restart links it).
   */
  link(h: WorkerSlot): Promise<unknown> {
    const handOffs: Array<Promise<unknown>> = [];
    const incarnation = this.view.incarnation(h.node);
    for (const other of this.hosts) {
      if (other === h || !live(other) || h.linked.has(other.node)) continue;
      const ch = new MessageChannel();
      const otherIncarnation = this.view.incarnation(other.node);
      h.linked.add(other.node);
      other.linked.add(h.node);
      handOffs.push(ifThere(control(h, (c) => c.replacePeer(other.node, Comlink.transfer(ch.port1, [ch.port1 as never]), otherIncarnation))));
      handOffs.push(ifThere(control(other, (c) => c.replacePeer(h.node, Comlink.transfer(ch.port2, [ch.port2 as never]), incarnation))));
    }
    for (const client of this.clients) {
      if (client.linked.has(h.node)) continue;
      const ch = new MessageChannel();
      client.linked.add(h.node);
      handOffs.push(ifThere(control(h, (c) => c.attachClient(client.address, Comlink.transfer(ch.port1, [ch.port1 as never])))));
      client.replace(h.node, ch.port2, incarnation, h.store.buffers);
    }
    return Promise.all(handOffs);
  }

  /** Node h's worker is gone, and every channel to it with it. */
  unlink(h: WorkerSlot): void {
    h.linked.clear();
    for (const other of this.hosts) other.linked.delete(h.node);
    for (const client of this.clients) client.linked.delete(h.node);
  }
}
