// Consistent hashing with virtual nodes, rack- and datacenter-aware (Cassandra's NetworkTopologyStrategy), plus the
// sloppy-quorum placement that Riak's riak_core_apl computes: primaries that are up, then fallbacks for those down.
//
// Data layout (all fixed at construction; a Ring is immutable, membership changes make a new Ring):
//   tokens[t]  Uint32Array, sorted ascending: every node's `vnodes` tokens, T = nodes * vnodes entries. A node's
//              tokens are hash32(`${id}#${i}`) for i in 0..vnodes-1 (or NodeSpec.tokens when given), so they depend
//              only on the node itself: a node joining moves only the keys the new node takes.
//   owners[t]  Int32Array: the node id owning tokens[t]. Equal token values tie-break by (node id, token index).
//   prefs[t]   the preference list of every key that lands on position t: node ids, frozen, interned (neighbouring
//              positions share one array). A key with hash h lands on the first token >= h, wrapping past the end.
// So preferenceList(h) is a binary search plus an array read and allocates nothing.
//
// Usage:
//   const ring = new Ring({ nodes, vnodes: DEFAULT_VNODES, replication: { dc1: 3, dc2: 2 } });
//   const primaries = ring.preferenceList(keyHash(keyId));         // N per dc, ring order
//   const targets = ring.place(keyHash(keyId), (node) => up[node]); // primaries up + fallbacks with hintFor
import { InvalidArgumentError, InvalidConfigError } from './errors.js';
import { hash32 } from './hash.js';

export const DEFAULT_VNODES = 16;
/** Cassandra caps num_tokens far lower in practice; 4096 keeps precomputation and memory bounded. */
export const MAX_VNODES = 4096;
export const MAX_NODES = 4096;
/** Bound on nodes * vnodes: each token position holds a precomputed preference list. */
export const MAX_TOKENS = 1 << 20;

export interface NodeSpec {
  /** 0..n-1, the index of the node in RingConfig.nodes */
  id: number;
  dc: string;
  rack: string;
  /** Explicit tokens (Cassandra's initial_token), mostly for hand-checked tests; default: derived from the id. */
  tokens?: readonly number[];
  /**
   * The node has left the ring (actors/membership): it keeps its id, because ids are addresses and name replicas in
   * version vectors and hints, but owns no tokens, counts in no dc or rack, and is never a primary or a fallback.
   */
  left?: boolean;
}

export interface RingConfig {
  nodes: NodeSpec[];
  /** tokens per node (ignored for a node that lists explicit tokens), 1..MAX_VNODES */
  vnodes: number;
  /** N, or N per datacenter; a dc not named holds no primaries */
  replication: number | Record<string, number>;
}

export interface Placement {
  node: number;
  dc: string;
  primary: boolean;
  /** for a fallback: the down primary it stands in for (the hint names it) */
  hintFor?: number;
}

/** The ring position of a key: a key id (one char per byte, see hash.ts) hashed with hash32. */
export function keyHash(key: string): number {
  return hash32(key);
}

/** The tokens a node derives from its id, independent of every other node. */
export function nodeTokens(id: number, vnodes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < vnodes; i++) out.push(hash32(`${id}#${i}`));
  return out;
}

function isUint32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

function assertKeyHash(h: number): void {
  if ((h >>> 0) !== h) {
    throw new InvalidArgumentError(`keyHash must be an unsigned 32-bit integer (from keyHash()); got ${h}`);
  }
}

export class Ring {
  readonly nodes: readonly NodeSpec[];
  readonly vnodes: number;
  readonly replicationByDc: Readonly<Record<string, number>>;
  readonly totalReplicas: number;
  private readonly replication: number | Record<string, number>;
  private readonly tokens: Uint32Array;
  private readonly owners: Int32Array;
  private readonly prefs: (readonly number[])[];
  /** dc index of each node; dc indexes follow first appearance in nodes */
  private readonly dcIndexOf: Int32Array;
  /** global rack index (a rack is scoped by its dc) of each node */
  private readonly rackIndexOf: Int32Array;
  private readonly racksInDc: number[];
  /** N for each dc index (0 for a dc not named in replication) */
  private readonly needByDc: number[];

  constructor(config: RingConfig) {
    validateShape(config);
    this.nodes = Object.freeze(config.nodes.map((n) => Object.freeze({ ...n })));
    this.vnodes = config.vnodes;
    this.replication = config.replication;
    const topo = indexTopology(config.nodes);
    this.dcIndexOf = topo.dcIndexOf;
    this.rackIndexOf = topo.rackIndexOf;
    this.racksInDc = topo.racksInDc;
    this.replicationByDc = Object.freeze(resolveReplication(config.replication, topo.dcNames, topo.nodesInDc));
    this.needByDc = topo.dcNames.map((dc) => this.replicationByDc[dc] ?? 0);
    this.totalReplicas = this.needByDc.reduce((a, b) => a + b, 0);
    const sorted = sortTokens(config.nodes, config.vnodes);
    this.tokens = sorted.tokens;
    this.owners = sorted.owners;
    this.prefs = this.precomputePrefs();
  }

  /** Number of token positions on the ring (nodes * vnodes unless tokens are explicit). */
  get tokenCount(): number {
    return this.tokens.length;
  }

  /** Every token on the ring, ascending (a copy; equal values appear once per owner). */
  allTokens(): Uint32Array {
    return this.tokens.slice();
  }

  /** A node's tokens, ascending. */
  tokensOf(node: number): number[] {
    this.assertNode(node);
    const out: number[] = [];
    for (let t = 0; t < this.tokens.length; t++) if (this.owners[t] === node) out.push(this.tokens[t]);
    return out;
  }

  /** The primaries of a key: N distinct nodes per dc, racks spread, in ring order from the key. No allocation. */
  preferenceList(keyHash: number): readonly number[] {
    assertKeyHash(keyHash);
    return this.prefs[this.positionOf(keyHash)];
  }

  /**
   * The sloppy-quorum list: each up primary (primary: true), then for each down primary (in preference-list order)
   * a fallback: the first up node clockwise from the key that is not already listed, from the down primary's dc
   * when one is left, else from any dc. Shorter than totalReplicas when too few nodes are up.
   */
  place(keyHash: number, isUp: (node: number) => boolean): Placement[] {
    const primaries = this.preferenceList(keyHash);
    const out: Placement[] = [];
    const down: number[] = [];
    for (const node of primaries) {
      if (isUp(node)) out.push({ node, dc: this.nodes[node].dc, primary: true });
      else down.push(node);
    }
    if (down.length === 0) return out;
    const candidates = this.fallbackCandidates(this.positionOf(keyHash), primaries, down, isUp);
    for (const [node, hintFor] of assignFallbacks(down, candidates, this.dcIndexOf)) {
      out.push({ node, dc: this.nodes[node].dc, primary: false, hintFor });
    }
    return out;
  }

  /** Whether a node is on the ring: a valid id that has not left. */
  isMember(node: number): boolean {
    return Number.isInteger(node) && node >= 0 && node < this.nodes.length && this.nodes[node].left !== true;
  }

  /** The ids of the nodes on the ring (not left), ascending. */
  memberIds(): number[] {
    return this.nodes.filter((n) => n.left !== true).map((n) => n.id);
  }

  /** A new ring without `node`: it keeps its id but owns no tokens (see NodeSpec.left); every other node stays. */
  withoutNode(node: number): Ring {
    this.assertNode(node);
    if (!this.isMember(node)) throw new InvalidArgumentError(`withoutNode: node ${node} has already left the ring`);
    const nodes = this.nodes.map((n) => (n.id === node ? { ...n, left: true } : n));
    return new Ring({ nodes, vnodes: this.vnodes, replication: this.replication });
  }

  /** A new ring with one more node; existing nodes keep their tokens, vnodes and replication stay. */
  withNode(spec: NodeSpec): Ring {
    if (spec.id !== this.nodes.length) {
      throw new InvalidConfigError(
        `withNode: the new node's id must be ${this.nodes.length} (the next index); got ${spec.id}`,
      );
    }
    return new Ring({ nodes: [...this.nodes, spec], vnodes: this.vnodes, replication: this.replication });
  }

  /** For each node, how many of the keys have it in their preference list (for balance reports). */
  ownership(keyHashes: Iterable<number>): number[] {
    const counts = new Array<number>(this.nodes.length).fill(0);
    for (const h of keyHashes) for (const node of this.preferenceList(h)) counts[node]++;
    return counts;
  }

  /** Index of the first token >= h, wrapping to 0 past the last token. */
  private positionOf(h: number): number {
    const tokens = this.tokens;
    let lo = 0;
    let hi = tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tokens[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === tokens.length ? 0 : lo;
  }

  private assertNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.nodes.length) {
      throw new InvalidArgumentError(`node must be an integer id in 0..${this.nodes.length - 1}; got ${node}`);
    }
  }

  private precomputePrefs(): (readonly number[])[] {
    const walker = new PrefWalker({
      tokens: this.tokens,
      owners: this.owners,
      dcIndexOf: this.dcIndexOf,
      rackIndexOf: this.rackIndexOf,
      racksInDc: this.racksInDc,
      needByDc: this.needByDc,
      totalReplicas: this.totalReplicas,
    });
    const interned = new Map<string, readonly number[]>();
    const prefs: (readonly number[])[] = [];
    for (let t = 0; t < this.tokens.length; t++) {
      const list = walker.walk(t);
      const key = list.join(',');
      let shared = interned.get(key);
      if (shared === undefined) {
        shared = Object.freeze(list);
        interned.set(key, shared);
      }
      prefs.push(shared);
    }
    return prefs;
  }

  /**
   * Up nodes that are not primaries, distinct, in ring order from position `start`. The walk stops as soon as every
   * dc with a down primary has as many candidates as it has down primaries (so the common case walks a few tokens),
   * else after one full circle.
   */
  private fallbackCandidates(
    start: number,
    primaries: readonly number[],
    down: number[],
    isUp: (n: number) => boolean,
  ): number[] {
    const state = new Int8Array(this.nodes.length); // 0 unseen, 1 skipped (primary or down), 2 candidate
    for (const p of primaries) state[p] = 1;
    const missingByDc = new Array<number>(this.racksInDc.length).fill(0);
    for (const d of down) missingByDc[this.dcIndexOf[d]]++;
    let dcsMissing = missingByDc.filter((m) => m > 0).length;
    const out: number[] = [];
    const T = this.tokens.length;
    for (let step = 0; step < T && dcsMissing > 0; step++) {
      const node = this.owners[(start + step) % T];
      if (state[node] !== 0) continue;
      if (!isUp(node)) {
        state[node] = 1;
        continue;
      }
      state[node] = 2;
      out.push(node);
      const dc = this.dcIndexOf[node];
      if (missingByDc[dc] > 0 && --missingByDc[dc] === 0) dcsMissing--;
    }
    return out;
  }
}

/**
 * Pairs each down primary with a fallback: first, every down primary takes the earliest candidate of its own dc;
 * then those still unpaired take the earliest remaining candidate of any dc. Two passes, so that a down primary with
 * no same-dc candidate cannot take the one another dc's down primary needed. Result in `down` order.
 */
function assignFallbacks(down: number[], candidates: number[], dcIndexOf: Int32Array): Array<[number, number]> {
  const taken = new Array<boolean>(candidates.length).fill(false);
  const chosen = new Array<number>(down.length).fill(-1);
  for (let d = 0; d < down.length; d++) {
    const c = candidates.findIndex((node, i) => !taken[i] && dcIndexOf[node] === dcIndexOf[down[d]]);
    if (c >= 0) [taken[c], chosen[d]] = [true, c];
  }
  for (let d = 0; d < down.length; d++) {
    if (chosen[d] >= 0) continue;
    const c = taken.indexOf(false);
    if (c >= 0) [taken[c], chosen[d]] = [true, c];
  }
  const out: Array<[number, number]> = [];
  for (let d = 0; d < down.length; d++) if (chosen[d] >= 0) out.push([candidates[chosen[d]], down[d]]);
  return out;
}

/**
 * NetworkTopologyStrategy walk from one token position, with scratch arrays reused across positions (a generation
 * stamp instead of clearing). Per dc: take a node whose rack is new for this key; while unused racks remain, set a
 * node on a used rack aside; once every rack of the dc is used, take the set-aside nodes (in the order met), then
 * any node. The result is sorted into ring order (by where each node was first met).
 */
interface Topology {
  tokens: Uint32Array;
  owners: Int32Array;
  dcIndexOf: Int32Array;
  rackIndexOf: Int32Array;
  racksInDc: number[];
  needByDc: number[];
  totalReplicas: number;
}

class PrefWalker {
  private readonly nodeStamp: Int32Array; // generation at which the node was met
  private readonly nodeMetAt: Int32Array; // step at which the node was first met
  private readonly rackStamp: Int32Array;
  private generation = 0;

  constructor(private readonly topo: Topology) {
    const nodeCount = topo.dcIndexOf.length;
    this.nodeStamp = new Int32Array(nodeCount);
    this.nodeMetAt = new Int32Array(nodeCount);
    this.rackStamp = new Int32Array(topo.rackIndexOf.reduce((a, b) => Math.max(a, b), 0) + 1);
  }

  walk(start: number): number[] {
    const { tokens, owners, dcIndexOf, rackIndexOf, racksInDc, needByDc, totalReplicas } = this.topo;
    const gen = ++this.generation;
    const takenByDc = new Array<number>(needByDc.length).fill(0);
    const racksUsedByDc = new Array<number>(needByDc.length).fill(0);
    const setAside: number[][] = needByDc.map(() => []);
    const chosen: number[] = [];
    const take = (node: number): void => {
      chosen.push(node);
      takenByDc[dcIndexOf[node]]++;
    };
    for (let step = 0; step < tokens.length && chosen.length < totalReplicas; step++) {
      const node = owners[(start + step) % tokens.length];
      const dc = dcIndexOf[node];
      if (this.nodeStamp[node] === gen || takenByDc[dc] >= needByDc[dc]) continue;
      this.nodeStamp[node] = gen;
      this.nodeMetAt[node] = step;
      const rack = rackIndexOf[node];
      if (racksUsedByDc[dc] === racksInDc[dc]) {
        take(node);
      } else if (this.rackStamp[rack] === gen) {
        setAside[dc].push(node);
      } else {
        this.rackStamp[rack] = gen;
        take(node);
        if (++racksUsedByDc[dc] === racksInDc[dc]) {
          for (const n of setAside[dc]) if (takenByDc[dc] < needByDc[dc]) take(n);
        }
      }
    }
    if (chosen.length !== totalReplicas) {
      throw new Error(`ring invariant: walk found ${chosen.length} of ${totalReplicas} replicas`);
    }
    return chosen.sort((a, b) => this.nodeMetAt[a] - this.nodeMetAt[b]);
  }
}

function validateShape(config: RingConfig): void {
  const { nodes, vnodes } = config;
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > MAX_NODES) {
    const got = Array.isArray(nodes) ? nodes.length : typeof nodes;
    throw new InvalidConfigError(`ring nodes must be an array of 1..${MAX_NODES} node specs; got ${got}`);
  }
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    throw new InvalidConfigError(`ring vnodes must be an integer in 1..${MAX_VNODES}; got ${vnodes}`);
  }
  let totalTokens = 0;
  if (nodes.every((n) => n.left === true)) {
    throw new InvalidConfigError('ring must keep at least one node that has not left');
  }
  nodes.forEach((n, i) => {
    if (n.id !== i) {
      throw new InvalidConfigError(`ring node ids must be 0..n-1 in array order; node at index ${i} has id ${n.id}`);
    }
    for (const field of ['dc', 'rack'] as const) {
      if (typeof n[field] !== 'string' || n[field].length === 0) {
        const got = JSON.stringify(n[field]);
        throw new InvalidConfigError(`ring node ${i}: ${field} must be a non-empty string; got ${got}`);
      }
    }
    if (n.left === true) return; // a node that left owns no tokens
    totalTokens += n.tokens === undefined ? vnodes : validateExplicitTokens(n);
  });
  if (totalTokens > MAX_TOKENS) {
    throw new InvalidConfigError(`ring has ${totalTokens} tokens (nodes * vnodes); at most ${MAX_TOKENS} allowed`);
  }
}

function validateExplicitTokens(n: NodeSpec): number {
  const tokens = n.tokens!;
  if (!Array.isArray(tokens) || tokens.length < 1 || tokens.length > MAX_VNODES || !tokens.every(isUint32)) {
    throw new InvalidConfigError(
      `ring node ${n.id}: tokens must be 1..${MAX_VNODES} unsigned 32-bit integers; got ${JSON.stringify(tokens)}`,
    );
  }
  return tokens.length;
}

function indexTopology(nodes: NodeSpec[]): {
  dcNames: string[];
  nodesInDc: number[];
  racksInDc: number[];
  dcIndexOf: Int32Array;
  rackIndexOf: Int32Array;
} {
  const dcIndex = new Map<string, number>();
  const rackIndex = new Map<string, number>();
  const dcNames: string[] = [];
  const nodesInDc: number[] = [];
  const racksInDc: number[] = [];
  const dcIndexOf = new Int32Array(nodes.length);
  const rackIndexOf = new Int32Array(nodes.length);
  for (const n of nodes) {
    if (n.left === true) {
      // never met on the ring: it must not create a dc or a rack that the walk would wait for
      dcIndexOf[n.id] = -1;
      rackIndexOf[n.id] = -1;
      continue;
    }
    let dc = dcIndex.get(n.dc);
    if (dc === undefined) {
      dc = dcNames.length;
      dcIndex.set(n.dc, dc);
      dcNames.push(n.dc);
      nodesInDc.push(0);
      racksInDc.push(0);
    }
    const rackKey = `${n.dc}\u0000${n.rack}`; // racks are scoped by dc: r1 in dc1 is not r1 in dc2
    let rack = rackIndex.get(rackKey);
    if (rack === undefined) {
      rack = rackIndex.size;
      rackIndex.set(rackKey, rack);
      racksInDc[dc]++;
    }
    nodesInDc[dc]++;
    dcIndexOf[n.id] = dc;
    rackIndexOf[n.id] = rack;
  }
  return { dcNames, nodesInDc, racksInDc, dcIndexOf, rackIndexOf };
}

function resolveReplication(
  replication: RingConfig['replication'],
  dcNames: string[],
  nodesInDc: number[],
): Record<string, number> {
  let byDc: Record<string, number>;
  if (typeof replication === 'number') {
    if (dcNames.length !== 1) {
      throw new InvalidConfigError(
        `replication is a plain number but the ring has ${dcNames.length} datacenters (${dcNames.join(', ')}); ` +
          `give N per datacenter, e.g. { ${dcNames[0]}: 3 }`,
      );
    }
    byDc = { [dcNames[0]]: replication };
  } else if (replication !== null && typeof replication === 'object' && Object.keys(replication).length > 0) {
    byDc = { ...replication };
  } else {
    throw new InvalidConfigError(
      `replication must be a number N or a non-empty record of N per datacenter; got ${JSON.stringify(replication)}`,
    );
  }
  for (const [dc, n] of Object.entries(byDc)) {
    const d = dcNames.indexOf(dc);
    if (d < 0) {
      throw new InvalidConfigError(
        `replication names datacenter '${dc}' but no node is in it; datacenters: ${dcNames.join(', ')}`,
      );
    }
    if (!Number.isInteger(n) || n < 1 || n > nodesInDc[d]) {
      throw new InvalidConfigError(
        `replication for datacenter '${dc}' must be an integer in 1..${nodesInDc[d]} (its node count); got ${n}`,
      );
    }
  }
  return byDc;
}

function sortTokens(nodes: NodeSpec[], vnodes: number): { tokens: Uint32Array; owners: Int32Array } {
  const entries: Array<[token: number, node: number, index: number]> = [];
  for (const n of nodes) {
    if (n.left === true) continue;
    const own = n.tokens ?? nodeTokens(n.id, vnodes);
    own.forEach((token, i) => entries.push([token, n.id, i]));
  }
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const tokens = new Uint32Array(entries.length);
  const owners = new Int32Array(entries.length);
  entries.forEach(([token, node], t) => {
    tokens[t] = token;
    owners[t] = node;
  });
  return { tokens, owners };
}
