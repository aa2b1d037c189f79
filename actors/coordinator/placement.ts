// Where a client sends a key's operations: the key's placement on the ring (primaries that are up, fallbacks in place
// of those that are down) plus, for a sloppy quorum, each primary's stand-in: the next healthy node on the ring that
// would take its writes (with a hint) were it down or slow. While every node is up (the common case) the result is
// cached per preference list (the ring hands out one frozen array per token position), so placing a key costs a
// hash and a binary search.

import { hash32 } from '../hash.js';
import type { Ring, Placement } from '../ring.js';
import type { ClusterView } from './client-env.js';

export interface PlacementSet {
  targets: Placement[];
  spares: Placement[];
  /** what a read may ask: targets, then stand-ins not already among them (asked only in place of their primary) */
  readTargets: Placement[];
}

export class Placer {
  private knownStatusVersion = -1;
  private everyNodeUp = false;
  private readonly placements = new WeakMap<readonly number[], PlacementSet>();
  private readonly isUpBound = (n: number): boolean => this.view.isUp(n);

  constructor(
    private readonly ring: Ring,
    private readonly view: ClusterView,
    private readonly sloppy: boolean,
  ) {}

  /** Whether every node was up at the last place() (a write then needs no feasibility check). */
  get allUp(): boolean {
    return this.everyNodeUp;
  }

  place(id: string): PlacementSet {
    const h = hash32(id);
    const version = this.view.statusVersion();
    if (version !== this.knownStatusVersion) {
      this.knownStatusVersion = version;
      this.everyNodeUp = this.ring.nodes.every((n) => this.view.isUp(n.id));
    }
    if (!this.everyNodeUp) return this.compute(h);
    const primaries = this.ring.preferenceList(h);
    let cached = this.placements.get(primaries);
    if (cached === undefined) {
      cached = this.compute(h);
      this.placements.set(primaries, cached);
    }
    return cached;
  }

  private compute(h: number): PlacementSet {
    const targets = this.ring.place(h, this.isUpBound);
    if (!this.sloppy) return { targets, spares: [], readTargets: targets };
    const primaries = new Set(this.ring.preferenceList(h));
    const spares = this.ring.place(h, (n) => !primaries.has(n) && this.view.isUp(n)).filter((p) => !p.primary);
    const extra = spares.filter((s) => !targets.some((t) => t.node === s.node));
    return { targets, spares, readTargets: extra.length === 0 ? targets : [...targets, ...extra] };
  }
}
