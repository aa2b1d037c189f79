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
import type { SharedView } from './shared-view.js';
import type { Supervisor } from './supervisor.js';
import { NodeGoneError, control, ifThere, live, release, spawn, terminate, type WorkerSlot } from './workers.js';

/** A client the cluster must tell about restarted replicas. */
export interface ClientEntry {
  address: Address;
  /** nodes whose current worker has a channel to this client */
  linked: Set<number>;
  replace(node: number, port: MessagePort, incarnation: number): void;
}

export class Wiring {
  constructor(
    private readonly hosts: WorkerSlot[],
    readonly clients: ClientEntry[],
    private readonly view: SharedView,
    private readonly supervisor: Supervisor,
    private readonly config: ResolvedConfig,
    readonly restartCounts: number[],
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
      if (this.view.stopped) return;
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

  /** Starts node h's worker again (h.starting while it runs). */
  restart(h: WorkerSlot, counted = true): Promise<void> {
    const starting = this.startAgain(h, counted);
    h.starting = starting;
    const done = (): void => {
      if (h.starting === starting) h.starting = undefined;
    };
    starting.then(done, done);
    return starting;
  }

  private async startAgain(h: WorkerSlot, counted: boolean): Promise<void> {
    if (this.view.stopped) return;
    const wipe = h.wipeOnRestart;
    if (wipe) {
      h.wipes++;
      h.replicaId = replicaIdOf(h.node, h.wipes);
    }
    this.unlink(h);
    // what was posted to the old worker is gone with it; senders still holding its ports no longer count
    this.view.resetDepth(h.node, this.view.bumpIncarnation(h.node));
    await spawn(h, this.config, this.view, []);
    if (wipe) h.wipeOnRestart = false; // no crash sets it while a restart runs: it waits for the restart
    this.watch(h);
    if (this.view.stopped) {
      await terminate(h);
      return;
    }
    const worker = h.worker;
    await this.link(h);
    h.restarting = false;
    if (counted) this.restartCounts[h.node]++;
    // it died while being linked: its exit has already scheduled the next restart
    if (h.exited || h.worker !== worker) return;
    if (counted) this.supervisor.restarted(h.node);
  }

  /**
   * Gives node h's worker (just started) a fresh channel to every live peer and every client it has none with.
   * Synchronous up to the hand-overs, so that of two nodes starting together, whichever is ready second links the
   * pair, exactly once. Resolves when every end is handed over (or its worker went away: its restart links it).
   */
  private link(h: WorkerSlot): Promise<unknown> {
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
      client.replace(h.node, ch.port2, incarnation);
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
