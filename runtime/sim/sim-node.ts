// One simulated node: its replica host (runtime/host/replica-host.ts: the actor, null while down, the pause buffer
// and the message counters) and what survives the actor: the stores (lost only to a wipe), status and wipe count.
// The getters keep the shape the cluster's metrics read.

import type { Replica, ReplicaCounters } from '../../actors/replica/index.js';
import { replicaIdOf, type ReplicaHost } from '../host/replica-host.js';
import type { MapStore } from '../host/store.js';
import type { SimEvent } from './network.js';

/** One simulated node: its replica host (the actor, pause buffer, counters) and what survives the actor. */
export class SimNode {
  status: 'up' | 'down' = 'up';
  /** the node left the ring (removeNode): it is down for good */
  left = false;
  wipes = 0;

  constructor(
    readonly host: ReplicaHost<SimEvent>,
    public store: MapStore,
    /** the node's persisted hints: they survive a crash like the store; a wipe loses both */
    public hintStore: MapStore,
  ) {}

  get node(): number {
    return this.host.node;
  }
  get replica(): Replica | null {
    return this.host.replica;
  }
  get paused(): boolean {
    return this.host.paused;
  }
  get inbox(): readonly SimEvent[] {
    return this.host.inbox;
  }
  /** counters of earlier incarnations, added up */
  get past(): ReplicaCounters {
    return this.host.past;
  }
  get messagesIn(): number {
    return this.host.messagesIn;
  }
  get messagesOut(): number {
    return this.host.messagesOut;
  }
  /** The DVV id the node's actor writes under ("3", or "3.1" after one wipe). */
  get replicaId(): string {
    return replicaIdOf(this.host.node, this.wipes);
  }
}
