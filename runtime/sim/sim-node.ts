// One simulated node: its replica host (runtime/host/replica-host.ts: the actor, null while down, the pause buffer
// and the message counters) and what survives the actor: the stores (lost only to a wipe), status and wipe count.
// The getters keep the shape the cluster's metrics read.

import type { Membership } from '../../actors/membership/plan.js';
import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';
import { Replica, type ReplicaCounters } from '../../actors/replica/index.js';
import { hintStoreSize, type ResolvedConfig } from '../config.js';
import { replicaIdOf, replicaOptions, type ReplicaHost } from '../host/replica-host.js';
import { MapStore } from '../host/store.js';
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

export function newSimStore(config: ResolvedConfig): MapStore {
  return new MapStore({ maxKeys: config.storeMaxKeys, arenaBytes: config.storeArenaBytes });
}

/** Sized from the hint bounds, as the thread runtime's (see hintStoreSize). */
export function newSimHintStore(config: ResolvedConfig): MapStore {
  return new MapStore(hintStoreSize(config));
}

/** A new actor on the node's stores, with its current DVV id, synced to the membership snapshot published now. */
export function newSimReplica(n: SimNode, config: ResolvedConfig, base: Membership, snapshot: MembershipSnapshot): Replica {
  const options = replicaOptions(config, n.node, n.replicaId, base, snapshot);
  const store = Object.assign(n.store, { forEachKey: (fn: (k: string) => void) => n.store.keys().forEach((k) => fn(k)) });
  const replica = new Replica(store, options, n.hintStore);
  // Trees are not persisted: a (re)started replica rebuilds them from its store, synchronously here (the thread
  // runtime hands the hashing to a pool).
  const tree = replica.antiEntropy!;
  tree.reset();
  n.store.forEach((keyId) => tree.index(keyId));
  tree.rehashAll();
  return replica;
}
