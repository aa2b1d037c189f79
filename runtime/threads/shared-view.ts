// The cluster's control block in shared memory: one Int32Array every thread maps (the main thread, each replica
// worker, each attached client). It carries what coordinators must know on every request without a message:
// whether the cluster is stopped, each node's status as the supervisor sees it, and each replica's mailbox depth.
//
// Layout (Int32 slots; every index is named here and only here):
//   [STOPPED]                       1 once the cluster is stopped
//   [STATUS_VERSION]                bumped on every change of a node's status
//   [IMPAIRED]                      1 while any link has a delay or drop set
//   [ADDRESSES]                     node addresses in use so far (joins add one; a node that left keeps its own)
//   [MEMBERSHIP_CHANGES], [MEMBERSHIP_COMPLETED]   the rank of the membership last published to clients (its
//                                   changes, and ranges completed in the last one): a client whose own rank differs
//                                   has not taken it yet, and reads no store directly until it has
//   [NODE_BASE + node*STRIDE + STATUS]      NodeStatus of the node (written by the supervisor)
//   [NODE_BASE + node*STRIDE + DEPTH]       messages posted to the node and not yet handled (senders add, it subtracts),
//                                           in the low DEPTH_BITS; the node's incarnation (mod 64) in the bits above
//   [NODE_BASE + node*STRIDE + HEARTBEAT]   heartbeat counter (the replica increments it)
//   [NODE_BASE + node*STRIDE + INCARNATION] bumped each time the node's worker is (re)started
//   [NODE_BASE + node*STRIDE + PAUSED]      1 while faults.pause holds the node (its store must not be read directly)
//   [links + (LINK_FIELDS*(from*nodes + to)) + f]   per directed link between replicas, f one of
//         BLOCKED  1 while messages on the link are dropped (a partition)
//         DELAY    the injected delay's first parameter in microseconds (constant: the delay; uniform: the least;
//                  exponential: the mean; pareto: xm); see runtime/threads/link-delay.ts
//         DROP     probability of dropping each message, in parts per million
//         DELAY_KIND  the delay's kind code (0: none; link-delay.ts), stored after its parameters
//         DELAY_B  the second parameter (uniform: the most, in us; pareto: alpha in millionths)
//   `from` may also be `nodes` (the row of clients not placed beside any replica); a client placed beside a node
//   uses that node's row.

export const enum NodeStatus {
  Up = 0,
  Suspect = 1,
  Down = 2,
}

const STOPPED = 0;
/** bumped on every status change, so coordinators can cache "every node is up" */
const STATUS_VERSION = 1;
/** 1 while any link has a delay or a drop probability */
const IMPAIRED = 2;
/** node addresses in use (the initial nodes, plus one per join): slots at and above it are unused, and Down */
const ADDRESSES = 3;
const MEMBERSHIP_CHANGES = 4;
const MEMBERSHIP_COMPLETED = 5;
const NODE_BASE = 6;
const STRIDE = 5;
const STATUS = 0;
const DEPTH = 1;
const HEARTBEAT = 2;
const INCARNATION = 3;
const PAUSED = 4;
/**
 * The depth word carries the incarnation it counts for, so that a sender still holding a port to a dead worker (a
 * restart replaces ports only after the new worker is up) cannot add to the new worker's count: nobody would ever
 * subtract it. 25 bits hold twice the largest mailboxCapacity (2^24); 6 bits of incarnation keep the word positive.
 */
const DEPTH_BITS = 25;
const DEPTH_MASK = (1 << DEPTH_BITS) - 1;
const TAG_MASK = 0x3f;
const LINK_FIELDS = 5;
const BLOCKED = 0;
const DELAY = 1;
const DROP = 2;
const DELAY_KIND = 3;
const DELAY_B = 4;

export class SharedView {
  readonly i32: Int32Array;
  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly nodes: number,
  ) {
    this.i32 = new Int32Array(buffer);
  }

  /**
   * A control block with `nodes` slots (config.maxNodes: every address the cluster can ever have), of which the
   * first `addresses` are in use; the others read Down until a join takes them.
   */
  static create(nodes: number, addresses = nodes): SharedView {
    const links = LINK_FIELDS * (nodes + 1) * nodes;
    const view = new SharedView(new SharedArrayBuffer((NODE_BASE + nodes * STRIDE + links) * 4), nodes);
    for (let node = addresses; node < nodes; node++) Atomics.store(view.i32, NODE_BASE + node * STRIDE + STATUS, NodeStatus.Down);
    Atomics.store(view.i32, ADDRESSES, addresses);
    return view;
  }

  /** Node addresses in use so far (ids 0..addresses-1; a node that left keeps its address, Down). */
  get addresses(): number {
    return Atomics.load(this.i32, ADDRESSES);
  }
  /** A join took the next address (the slot stays Down until the node is up). */
  setAddresses(n: number): void {
    if (n > this.nodes) throw new RangeError(`the control block has ${this.nodes} node slots; ${n} addresses asked`);
    Atomics.store(this.i32, ADDRESSES, n);
  }

  private get links(): number {
    return NODE_BASE + this.nodes * STRIDE;
  }
  private link(from: number, to: number, field: number): number {
    return this.links + LINK_FIELDS * (from * this.nodes + to) + field;
  }
  blocked(from: number, to: number): boolean {
    return from !== to && Atomics.load(this.i32, this.link(from, to, BLOCKED)) !== 0;
  }
  setBlocked(from: number, to: number, blocked: boolean): void {
    Atomics.store(this.i32, this.link(from, to, BLOCKED), blocked ? 1 : 0);
  }
  /** The link's delay distribution code (0: no delay) and its two integer parameters (link-delay.ts decodes them). */
  delayKind(from: number, to: number): number {
    return Atomics.load(this.i32, this.link(from, to, DELAY_KIND));
  }
  delayA(from: number, to: number): number {
    return Atomics.load(this.i32, this.link(from, to, DELAY));
  }
  delayB(from: number, to: number): number {
    return Atomics.load(this.i32, this.link(from, to, DELAY_B));
  }
  /**
   * Sets the link's delay: no delay while the parameters change, the kind stored last. Without a lock, a message sent
   * during the change may still take the old kind with a new parameter (once; faults are set between phases).
   */
  setDelay(from: number, to: number, kind: number, a: number, b: number): void {
    Atomics.store(this.i32, this.link(from, to, DELAY_KIND), 0);
    Atomics.store(this.i32, this.link(from, to, DELAY), a);
    Atomics.store(this.i32, this.link(from, to, DELAY_B), b);
    Atomics.store(this.i32, this.link(from, to, DELAY_KIND), kind);
  }
  dropPpm(from: number, to: number): number {
    return Atomics.load(this.i32, this.link(from, to, DROP));
  }
  setDropPpm(from: number, to: number, ppm: number): void {
    Atomics.store(this.i32, this.link(from, to, DROP), ppm);
  }
  /** true when any delay or drop is set anywhere (a cheap check for the sender's fast path) */
  get impaired(): boolean {
    return Atomics.load(this.i32, IMPAIRED) !== 0;
  }
  setImpaired(on: boolean): void {
    Atomics.store(this.i32, IMPAIRED, on ? 1 : 0);
  }

  get stopped(): boolean {
    return Atomics.load(this.i32, STOPPED) === 1;
  }
  markStopped(): void {
    Atomics.store(this.i32, STOPPED, 1);
  }

  status(node: number): NodeStatus {
    return Atomics.load(this.i32, NODE_BASE + node * STRIDE + STATUS);
  }
  setStatus(node: number, s: NodeStatus): void {
    if (Atomics.exchange(this.i32, NODE_BASE + node * STRIDE + STATUS, s) !== s) Atomics.add(this.i32, STATUS_VERSION, 1);
  }
  statusVersion(): number {
    return Atomics.load(this.i32, STATUS_VERSION);
  }

  /** The membership published to clients now has this rank (written before any client is told: see the layout). */
  publishMembership(changes: number, completed: number): void {
    Atomics.store(this.i32, MEMBERSHIP_CHANGES, changes);
    Atomics.store(this.i32, MEMBERSHIP_COMPLETED, completed);
  }
  /** Whether a client whose membership has this rank holds the one last published. */
  membershipIs(changes: number, completed: number): boolean {
    return Atomics.load(this.i32, MEMBERSHIP_COMPLETED) === completed && Atomics.load(this.i32, MEMBERSHIP_CHANGES) === changes;
  }
  isUp(node: number): boolean {
    return this.status(node) !== NodeStatus.Down;
  }

  depth(node: number): number {
    return Atomics.load(this.i32, NODE_BASE + node * STRIDE + DEPTH) & DEPTH_MASK;
  }
  /**
   * Adds n (negative: handled) to the depth of the node's `incarnation`; false, and nothing counted, when the node has
   * been restarted since (the caller's port leads to a worker that is gone).
   */
  addDepth(node: number, n: number, incarnation: number): boolean {
    const slot = NODE_BASE + node * STRIDE + DEPTH;
    const tag = (incarnation & TAG_MASK) << DEPTH_BITS;
    for (;;) {
      const word = Atomics.load(this.i32, slot);
      if ((word & ~DEPTH_MASK) !== tag) return false;
      const depth = Math.min(DEPTH_MASK, Math.max(0, (word & DEPTH_MASK) + n));
      if (Atomics.compareExchange(this.i32, slot, word, tag | depth) === word) return true;
    }
  }
  /** Starts the count of a new incarnation at zero: what was posted to the one before is gone with its worker. */
  resetDepth(node: number, incarnation: number): void {
    Atomics.store(this.i32, NODE_BASE + node * STRIDE + DEPTH, (incarnation & TAG_MASK) << DEPTH_BITS);
  }

  heartbeat(node: number): number {
    return Atomics.load(this.i32, NODE_BASE + node * STRIDE + HEARTBEAT);
  }
  beat(node: number): void {
    Atomics.add(this.i32, NODE_BASE + node * STRIDE + HEARTBEAT, 1);
  }

  paused(node: number): boolean {
    return Atomics.load(this.i32, NODE_BASE + node * STRIDE + PAUSED) !== 0;
  }
  setPaused(node: number, paused: boolean): void {
    Atomics.store(this.i32, NODE_BASE + node * STRIDE + PAUSED, paused ? 1 : 0);
  }

  incarnation(node: number): number {
    return Atomics.load(this.i32, NODE_BASE + node * STRIDE + INCARNATION);
  }
  bumpIncarnation(node: number): number {
    return Atomics.add(this.i32, NODE_BASE + node * STRIDE + INCARNATION, 1) + 1;
  }
}
