// The simulator's side of membership changes: the MembershipPort the shared driver (runtime/host/
// membership-driver.ts) runs on. Calls into actors are synchronous here (the world's control plane is out of band:
// it reaches a paused node, as the thread runtime's control port does); a (re)started actor is built on the
// published snapshot, so it never serves under an older epoch than its peers were told of.

import type { MembershipCall, MembershipReply } from '../../actors/membership/calls.js';
import type { MembershipSnapshot } from '../../actors/membership/snapshot.js';
import type { NodeSpec } from '../../actors/ring.js';
import type { MembershipPort } from '../host/membership-driver.js';
import type { SimWorld } from './world.js';

export interface SimMembershipHooks {
  /** every client of the cluster, the cluster's own included */
  clients(): Iterable<{ setMembership(s: MembershipSnapshot): void }>;
  /** a joining node started */
  started(node: number): void;
  /** a node left the ring and stopped for good */
  retired(node: number): void;
  stopped(): boolean;
}

export class SimMembershipPort implements MembershipPort {
  /** what clients were told last (new clients start from it) */
  clientSnapshot: MembershipSnapshot;

  constructor(
    private readonly world: SimWorld,
    private readonly hooks: SimMembershipHooks,
  ) {
    this.clientSnapshot = world.snapshot;
  }

  now(): number {
    return this.world.nowMs;
  }

  async sleep(ms: number): Promise<void> {
    await this.world.sleep(ms);
  }

  isRunning(node: number): boolean {
    return (this.world.nodes[node]?.replica ?? null) !== null;
  }

  async call(node: number, call: MembershipCall): Promise<MembershipReply | undefined> {
    const n = this.world.nodes[node];
    const replica = n?.replica ?? null;
    if (replica === null) return undefined;
    let reply: MembershipReply | undefined;
    n.host.act((out) => (reply = replica.membershipCall(call, this.world.nowMs, out)));
    this.world.schedulePump();
    return reply;
  }

  publishNodes(snapshot: MembershipSnapshot): void {
    this.world.snapshot = snapshot;
  }

  publishClients(snapshot: MembershipSnapshot): void {
    this.clientSnapshot = snapshot;
    for (const c of this.hooks.clients()) c.setMembership(snapshot);
  }

  async spawn(spec: NodeSpec): Promise<void> {
    this.world.addNode(spec);
    this.hooks.started(spec.id);
  }

  async retire(node: number): Promise<void> {
    this.world.kill(node, false, true);
    this.hooks.retired(node);
  }

  stopped(): boolean {
    return this.hooks.stopped();
  }
}
