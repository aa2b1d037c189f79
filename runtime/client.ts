// A client of the cluster: get / put / delete / inspect, usable from the thread that started the cluster and from
// any other thread that attached with a ClientHandle. It coordinates reads itself (actors/coordinator/get.ts),
// sends each write to its coordinating replica, serves consistency-ONE reads straight from a replica's shared store
// (no message at all), and checks every argument before anything is sent.

import type { MessagePort } from 'node:worker_threads';
import { GetFsm, type GetResult as FsmGetResult, type ReadRepairMode } from '../actors/coordinator/get.js';
import {
  InvalidArgumentError,
  KeyTooLargeError,
  OverloadedError,
  QuorumError,
  StoppedError,
  TimeoutError,
  ValueTooLargeError,
  fromWire,
  type LeaderlessError,
} from '../actors/errors.js';
import { hash32, keyByteLength, keyId, utf8Length, type Key } from '../actors/hash.js';
import type { Address, Message, PutReply, PutRequest, Send, StoredClock } from '../actors/protocol.js';
import { newPutCore, parseLevel, putOutcome, putStatus, requirement, type Level, type Requirement } from '../actors/quorum.js';
import { Ring, type Placement } from '../actors/ring.js';
import type { Value } from '../actors/types.js';
import { decodeContext, encodeContext, join, type VersionVector } from '../actors/versioning/dvv.js';
import type { ResolvedConfig } from './config.js';
import { nowMs } from './clock.js';
import { NodeStatus, SharedView } from './shared-view.js';
import { BUSY, SharedStore, type StoreBuffers } from './store.js';
import { Outbox, type Port } from './transport.js';
import { WireCodec } from './wire.js';

export interface GetOptions {
  consistency?: Level;
  r?: number;
  timeoutMs?: number;
  readRepair?: ReadRepairMode;
}

export interface PutOptions {
  context?: string;
  consistency?: Level;
  w?: number;
  timeoutMs?: number;
}

export interface GetResult {
  /** false when no replica asked held a live value (nothing written, or deleted) */
  found: boolean;
  /** every sibling, in the type it was written in; more than one means concurrent writes */
  values: Value[];
  /** opaque causal context: pass it to the next put or delete of this key to supersede what you read */
  context: string;
  /** true when the value was read from a deleted key's tombstone (found is then false) */
  deleted: boolean;
  /** true when every reply that counted came from a primary replica (not a sloppy-quorum fallback) */
  primaryOnly: boolean;
}

export interface PutResult {
  /** replicas whose acknowledgement counted toward W */
  acked: number[];
  primaryOnly: boolean;
  /** the context of the version just written: pass it to the next put of this key to supersede it (no read needed) */
  context: string;
}

export interface Inspection {
  values: Value[];
  context: string;
  /** versions held, tombstones included */
  versions: number;
  deleted: boolean;
}

/** Everything a thread needs to become a client: plain data plus transferable ports. */
export interface ClientHandle {
  address: Address;
  config: ResolvedConfig;
  view: SharedArrayBuffer;
  stores: StoreBuffers[];
  ports: Array<[number, MessagePort]>;
  /** place the client beside a replica: partitions that cut that replica off cut this client off too */
  near?: number;
  /** from the owning thread: new ports for restarted replicas */
  control?: MessagePort;
  /** pass as the transfer list when posting the handle to another thread */
  transfer: MessagePort[];
}

const PARK = new Int32Array(new SharedArrayBuffer(4));
const GET_KEYS = new Set(['consistency', 'r', 'timeoutMs', 'readRepair']);
const PUT_KEYS = new Set(['context', 'consistency', 'w', 'timeoutMs']);

interface PendingPut {
  resolve: (r: PutResult) => void;
  reject: (e: LeaderlessError) => void;
  deadlineMs: number;
  timeoutMs: number;
  /** the request, resent to the next coordinator when one does not answer */
  msg: PutRequest;
  attempt: number;
  failoverAtMs: number;
}

interface PlacementSet {
  targets: Placement[];
  spares: Placement[];
  /** what a read may ask: targets, then stand-ins not already among them */
  readTargets: Placement[];
}

interface PendingGet {
  fsm: GetFsm;
  resolve?: (r: GetResult) => void;
  reject?: (e: LeaderlessError) => void;
}

export class ClusterClient {
  readonly config: ResolvedConfig;
  readonly ring: Ring;
  readonly address: Address;
  /** the replica this client sits beside for partitions (-1: never cut off) */
  readonly near: number;
  protected readonly view: SharedView;
  private readonly readers: SharedStore[];
  private readonly ports = new Map<Address, Port>();
  private readonly outbox: Outbox;
  private readonly codec: WireCodec;
  private readonly puts = new Map<number, PendingPut>();
  private readonly gets = new Map<number, PendingGet>();
  private readonly out: Send[] = [];
  private nextReq = 1;
  private statusVersion = -1;
  private allUp = false;
  private readonly placements = new WeakMap<readonly number[], PlacementSet>();
  private readonly isUp = (n: number): boolean => this.view.isUp(n);
  private readonly levelCache = { read: new Map<Level, Requirement>(), write: new Map<Level, Requirement>() };
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private control: MessagePort | undefined;
  private readonly defaultRead: Requirement;
  private readonly defaultWrite: Requirement;
  readonly counters = {
    gets: 0,
    getsLocal: 0,
    puts: 0,
    failures: 0,
    timeouts: 0,
    readRepairs: 0,
    siblingsReturned: 0,
    coordinatorFailovers: 0,
  };

  constructor(handle: Omit<ClientHandle, 'transfer'>) {
    this.config = handle.config;
    this.address = handle.address;
    this.codec = new WireCodec(handle.config.datacenters);
    this.view = new SharedView(handle.view, handle.config.nodes.length);
    this.ring = new Ring({ nodes: this.config.nodes, vnodes: this.config.vnodes, replication: this.config.replication });
    this.readers = handle.stores.map((b) => SharedStore.attach(b, 'reader'));
    for (const [node, port] of handle.ports) this.replacePort(node, port);
    if (handle.control !== undefined) {
      // the owning thread tells an attached client about replicas restarted on new ports
      handle.control.on('message', (m: { type: 'replace'; node: number; port: MessagePort }) => {
        if (m?.type === 'replace') this.replacePort(m.node, m.port);
      });
      handle.control.unref();
      this.control = handle.control;
    }
    this.near = handle.near ?? -1;
    this.outbox = new Outbox(this.ports, this.codec, this.view, this.config.mailboxCapacity, this.near);
    const topo = { replicationByDc: this.config.replication, localDc: this.config.localDc };
    this.defaultRead = requirement(this.config.read, 'read', topo);
    this.defaultWrite = requirement(this.config.write, 'write', topo);
  }

  // ---------------------------------------------------------------------------------------------- public API

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    this.checkOpen();
    checkOptions(options, GET_KEYS, 'get');
    const id = this.checkKey(key);
    const need = this.readRequirement(options);
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    const readRepair = options.readRepair ?? this.config.readRepair;
    if (!['async', 'blocking', 'off'].includes(readRepair)) {
      throw new InvalidArgumentError(`readRepair must be async, blocking or off; got ${String(readRepair)}`);
    }
    const placement = this.placeWithSpares(id);
    this.counters.gets++;
    if (need.total === 1 && !need.hintsCount) {
      const local = this.readLocal(id, placement.targets, need);
      if (local !== undefined) return local;
    }
    this.checkInFlight();
    const fsm = new GetFsm(
      {
        req: this.nextReq++,
        self: this.address,
        key: id,
        targets: placement.readTargets,
        need,
        sloppy: this.config.sloppy,
        readRepair,
        conflicts: this.config.conflicts,
        timeoutMs,
        retryAfterMs: this.config.readRetryMs,
        fanout: this.config.readFanout,
      },
      nowMs(),
    );
    return new Promise<GetResult>((resolve, reject) => {
      const pending: PendingGet = { fsm, resolve, reject };
      this.gets.set(fsm.params.req, pending);
      this.ensureTicker();
      this.finishGet(pending, fsm.start(this.out));
      this.route(pending);
    });
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, this.checkValue(value), options);
  }

  /** Deletes by writing a tombstone. Pass the context of a read to delete exactly what you saw. */
  async delete(key: Key, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, null, options);
  }

  /** What replica `node` holds for `key`, read from its shared store (no message): undefined if nothing. */
  inspect(node: number, key: Key): Inspection | undefined {
    this.checkOpen();
    if (!Number.isInteger(node) || node < 0 || node >= this.readers.length) {
      throw new InvalidArgumentError(`node must be an integer from 0 to ${this.readers.length - 1}; got ${String(node)}`);
    }
    const id = this.checkKey(key);
    // The store answers BUSY while its writer compacts; inspect is synchronous, so wait in short bounded sleeps
    // (Atomics.wait parks this thread without spinning) for up to about two seconds.
    for (let attempt = 0; attempt < 2000; attempt++) {
      const clock = this.readers[node].get(id);
      if (clock === BUSY) {
        Atomics.wait(PARK, 0, 0, 1);
        continue;
      }
      if (clock === undefined) return undefined;
      const r = toResult(clock, true);
      const versions = clock.entries.reduce((n: number, e: { values: unknown[] }) => n + e.values.length, 0) + clock.anonymous.length;
      return { values: r.values, context: r.context, versions, deleted: r.deleted };
    }
    throw new OverloadedError(`replica ${node}'s store stayed busy compacting; retry`);
  }

  /** Talk to replica `node` on a new port (it was restarted); the old port is closed. */
  replacePort(node: number, port: MessagePort): void {
    const old = this.ports.get(node) as MessagePort | undefined;
    if (old !== undefined && old !== port) old.close();
    this.ports.set(node, port);
    port.on('message', (buffer: ArrayBuffer) => {
      // a partition between the replica and the node this client sits beside drops its replies too
      if (this.near >= 0 && this.view.blocked(node, this.near)) return;
      this.deliver(this.codec.decode(buffer));
    });
    port.unref();
  }

  /** How the supervisor currently sees a node. */
  nodeStatus(node: number): 'up' | 'suspect' | 'down' {
    const s = this.view.status(node);
    return s === NodeStatus.Up ? 'up' : s === NodeStatus.Suspect ? 'suspect' : 'down';
  }

  /** Detaches this client (an attached thread calls it when done; the cluster's own client closes with stop()). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    const err = new StoppedError('the client was closed');
    for (const p of this.puts.values()) p.reject(err);
    for (const g of this.gets.values()) g.reject?.(err);
    this.puts.clear();
    this.gets.clear();
    for (const port of this.ports.values()) (port as MessagePort).close?.();
    this.control?.close();
  }

  // ---------------------------------------------------------------------------------------------- internals

  private async write(key: Key, value: Value | null, options: PutOptions): Promise<PutResult> {
    this.checkOpen();
    checkOptions(options, PUT_KEYS, value === null ? 'delete' : 'put');
    const id = this.checkKey(key);
    const need = this.writeRequirement(options);
    const timeoutMs = options.timeoutMs === undefined ? this.config.timeoutMs : checkTimeout(options.timeoutMs);
    let context: VersionVector | null = null;
    if (options.context !== undefined) {
      if (typeof options.context !== 'string') {
        throw new InvalidArgumentError('context must be the string a get returned');
      }
      context = decodeContext(options.context);
    }
    const { targets, spares } = this.placeWithSpares(id);
    if (targets.length === 0) {
      throw new QuorumError(`no replica of the key is up: all ${this.config.nodes.length} nodes are down`, { needed: need.total });
    }
    // Unavailable before anything is written (as Cassandra's UnavailableException): a write that cannot meet its
    // level with the replicas that are up is refused here, rather than applied to some of them and then failed.
    const feasibility = this.allUp ? undefined : newPutCore(need, targets, { sloppy: this.config.sloppy });
    if (feasibility !== undefined && putStatus(feasibility) === 'failed') {
      const o = putOutcome(feasibility);
      throw new QuorumError(`${o.message} (nothing was written)`, { needed: o.needed, acked: [], failed: o.failedNodes, up: targets.map((t) => t.node) });
    }
    this.checkInFlight();
    const coordinator = targets[0].node;
    if (!this.outbox.accepts(coordinator)) {
      throw new OverloadedError(
        `replica ${coordinator}'s mailbox is full (${this.config.mailboxCapacity} messages, mailboxCapacity); retry later`,
        { node: coordinator, capacity: this.config.mailboxCapacity },
      );
    }
    this.counters.puts++;
    const req = this.nextReq++;
    const msg: PutRequest = {
      type: 'put',
      req,
      from: this.address,
      key: id,
      value,
      context,
      targets,
      spares,
      need,
      sloppy: this.config.sloppy,
      timeoutMs,
      hintAfterMs: this.config.hintAfterMs,
    };
    return new Promise<PutResult>((resolve, reject) => {
      const now = nowMs();
      this.puts.set(req, {
        resolve,
        reject,
        deadlineMs: now + timeoutMs + this.config.coordinatorFailoverMs,
        timeoutMs,
        msg,
        attempt: 0,
        failoverAtMs: now + this.config.coordinatorFailoverMs,
      });
      this.ensureTicker();
      this.outbox.send(coordinator, msg);
    });
  }

  private readLocal(id: string, targets: Placement[], need: Requirement): GetResult | undefined {
    const localOnly = need.perDc[this.config.localDc] !== undefined;
    for (const t of targets) {
      if (!t.primary) continue; // a fallback's store does not hold the key (it holds hints)
      if (localOnly && t.dc !== this.config.localDc) continue;
      const clock = this.readers[t.node].get(id);
      if (clock === BUSY) return undefined; // compacting: ask by message instead
      this.counters.getsLocal++;
      const r = toResult(clock ?? null, true);
      if (r.values.length > 1) this.counters.siblingsReturned++;
      return r;
    }
    return undefined;
  }

  private deliver(batch: Message[]): void {
    for (const msg of batch) {
      switch (msg.type) {
        case 'put-reply':
          this.onPutReply(msg);
          break;
        case 'get-reply': {
          const g = this.gets.get(msg.req);
          if (g === undefined) break;
          this.finishGet(g, g.fsm.onReply(msg, this.out));
          this.route(g);
          break;
        }
        case 'repair-ack': {
          const g = this.gets.get(msg.req);
          if (g === undefined) break;
          this.finishGet(g, g.fsm.onRepairAck(msg.from));
          break;
        }
        default:
          break;
      }
    }
  }

  private onPutReply(msg: PutReply): void {
    const p = this.puts.get(msg.req);
    if (p === undefined) return;
    this.puts.delete(msg.req);
    if (msg.ok) p.resolve(new WriteResult(msg.acked, msg.primaryOnly, msg.context));
    else {
      this.counters.failures++;
      p.reject(fromWire(msg.error ?? { code: 'INTERNAL', message: 'write failed without a reason', details: {} }));
    }
  }

  /** Sends what the FSM asked for; a target whose mailbox is full counts as unreachable at once. */
  private route(g: PendingGet): void {
    while (this.out.length > 0) {
      const batch = this.out.splice(0);
      for (const { to, msg } of batch) {
        if (msg.type === 'get' && !this.outbox.accepts(to)) {
          this.finishGet(g, g.fsm.onUnreachable(to, this.out));
          continue;
        }
        this.outbox.send(to, msg);
      }
    }
  }

  private finishGet(g: PendingGet, r: FsmGetResult | undefined): void {
    if (r !== undefined && g.resolve !== undefined) {
      const resolve = g.resolve;
      const reject = g.reject!;
      g.resolve = undefined;
      g.reject = undefined;
      if (r.ok) {
        if (r.repaired.length > 0) this.counters.readRepairs += r.repaired.length;
        const result = toResult(r.clock, r.primaryOnly, r.context);
        if (result.values.length > 1) this.counters.siblingsReturned++;
        resolve(result);
      } else {
        this.counters.failures++;
        if (r.error.code === 'TIMEOUT') this.counters.timeouts++;
        reject(r.error);
      }
    }
    if (g.fsm.state === 'done') this.gets.delete(g.fsm.params.req);
  }

  private ensureTicker(): void {
    if (this.ticker !== undefined) return;
    // Referenced on purpose: while an operation is pending the process must not exit under an `await`.
    this.ticker = setInterval(() => this.tick(), this.config.tickMs);
  }

  private tick(): void {
    const now = nowMs();
    if (this.view.stopped) {
      this.close();
      return;
    }
    for (const g of this.gets.values()) {
      this.finishGet(g, g.fsm.onTick(now, this.out));
      this.route(g);
    }
    for (const [req, p] of this.puts) {
      if (now >= p.failoverAtMs && p.attempt + 1 < p.msg.targets.length && now < p.deadlineMs) {
        // The coordinating replica has not answered (down, cut off, or slow): the next replica coordinates.
        // If the first one did apply the write, the value may appear twice as siblings: never lost.
        p.attempt++;
        p.failoverAtMs = now + this.config.coordinatorFailoverMs;
        p.deadlineMs = Math.max(p.deadlineMs, now + p.timeoutMs + this.config.coordinatorFailoverMs);
        this.counters.coordinatorFailovers++;
        this.outbox.send(p.msg.targets[p.attempt].node, p.msg);
        continue;
      }
      if (now < p.deadlineMs) continue;
      this.puts.delete(req);
      this.counters.failures++;
      this.counters.timeouts++;
      p.reject(
        new TimeoutError(
          `write timed out after ${p.timeoutMs} ms: coordinating replicas ${p.msg.targets.slice(0, p.attempt + 1).map((t) => t.node).join(',')} did not answer`,
          { timeoutMs: p.timeoutMs, coordinators: p.msg.targets.slice(0, p.attempt + 1).map((t) => t.node) },
        ),
      );
    }
    if (this.gets.size === 0 && this.puts.size === 0 && this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  /**
   * The key's placement. While every node is up (the common case) it is the preference list, and the annotated list
   * is cached per preference list (the ring hands out one frozen array per token position); otherwise it is computed
   * with the supervisor's view of who is up.
   */
  protected place(id: string): Placement[] {
    return this.placeWithSpares(id).targets;
  }

  /**
   * The placement plus, for a sloppy quorum, each primary's stand-in: the next healthy node on the ring that would
   * take its writes (with a hint) were it down or slow.
   */
  protected placeWithSpares(id: string): PlacementSet {
    const h = hash32(id);
    const version = this.view.statusVersion();
    if (version !== this.statusVersion) {
      this.statusVersion = version;
      this.allUp = this.config.nodes.every((n) => this.view.isUp(n.id));
    }
    if (!this.allUp) return this.computePlacement(h);
    const primaries = this.ring.preferenceList(h);
    let cached = this.placements.get(primaries);
    if (cached === undefined) {
      cached = this.computePlacement(h);
      this.placements.set(primaries, cached);
    }
    return cached;
  }

  private computePlacement(h: number): PlacementSet {
    const targets = this.ring.place(h, this.isUp);
    if (!this.config.sloppy) return { targets, spares: [], readTargets: targets };
    const primaries = new Set(this.ring.preferenceList(h));
    const spares = this.ring.place(h, (n) => !primaries.has(n) && this.isUp(n)).filter((p) => !p.primary);
    const extra = spares.filter((s) => !targets.some((t) => t.node === s.node));
    return { targets, spares, readTargets: extra.length === 0 ? targets : [...targets, ...extra] };
  }

  private readRequirement(o: GetOptions): Requirement {
    if (o.consistency !== undefined && o.r !== undefined) {
      throw new InvalidArgumentError('give consistency or r, not both');
    }
    const level = o.r ?? o.consistency;
    if (level === undefined) return this.defaultRead;
    return this.cachedRequirement(level, 'read');
  }

  private writeRequirement(o: PutOptions): Requirement {
    if (o.consistency !== undefined && o.w !== undefined) {
      throw new InvalidArgumentError('give consistency or w, not both');
    }
    const level = o.w ?? o.consistency;
    if (level === undefined) return this.defaultWrite;
    return this.cachedRequirement(level, 'write');
  }

  /** Requirements are pure functions of (level, op) for a given topology: computed once, then looked up. */
  private cachedRequirement(level: Level, op: 'read' | 'write'): Requirement {
    const cache = this.levelCache[op];
    let r = cache.get(level);
    if (r === undefined) {
      r = requirement(parseLevel(level, op), op, { replicationByDc: this.config.replication, localDc: this.config.localDc });
      if (cache.size < 64) cache.set(level, r); // bounded: only well-formed levels get here, but be safe
    }
    return r;
  }

  protected checkOpen(): void {
    if (this.closed || this.view.stopped) throw new StoppedError();
  }

  private checkInFlight(): void {
    const n = this.puts.size + this.gets.size;
    if (n >= this.config.maxInFlight) {
      throw new OverloadedError(`${n} operations in flight on this client, its limit (maxInFlight); await some first`, {
        limit: this.config.maxInFlight,
      });
    }
  }

  protected checkKey(key: Key): string {
    if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
      throw new InvalidArgumentError(`a key must be a string or a Uint8Array; got ${describe(key)}`);
    }
    const bytes = keyByteLength(key);
    if (bytes === 0) throw new InvalidArgumentError('a key must not be empty');
    if (bytes > this.config.maxKeyBytes) throw new KeyTooLargeError(bytes, this.config.maxKeyBytes);
    return keyId(key);
  }

  private checkValue(value: Value): Value {
    if (typeof value === 'string') {
      // cheap upper bound first: UTF-8 takes at most 3 bytes per UTF-16 unit
      if (value.length * 3 > this.config.maxValueBytes) {
        const bytes = utf8Length(value);
        if (bytes > this.config.maxValueBytes) throw new ValueTooLargeError(bytes, this.config.maxValueBytes);
      }
      return value;
    }
    if (value instanceof Uint8Array) {
      if (value.length > this.config.maxValueBytes) throw new ValueTooLargeError(value.length, this.config.maxValueBytes);
      return value;
    }
    throw new InvalidArgumentError(`a value must be a string or a Uint8Array; got ${describe(value)}`);
  }
}

/**
 * A read's answer. The context is encoded only when asked for: a cache read that never writes back should not pay for
 * it (encoding costs about as much as the whole shared-memory read).
 */
class ReadResult implements GetResult {
  #clock: StoredClock | null;
  #vv: VersionVector | undefined;
  #context: string | undefined;
  constructor(
    readonly found: boolean,
    readonly values: Value[],
    readonly deleted: boolean,
    readonly primaryOnly: boolean,
    clock: StoredClock | null,
    vv: VersionVector | undefined,
  ) {
    this.#clock = clock;
    this.#vv = vv;
  }
  get context(): string {
    if (this.#context === undefined) {
      const vv = this.#vv ?? (this.#clock === null ? [] : join(this.#clock));
      this.#context = vv.length === 0 ? '' : encodeContext(vv);
    }
    return this.#context;
  }
  toJSON(): GetResult {
    return { found: this.found, values: this.values, context: this.context, deleted: this.deleted, primaryOnly: this.primaryOnly };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): GetResult {
    return this.toJSON();
  }
}

class WriteResult implements PutResult {
  #vv: VersionVector;
  #context: string | undefined;
  constructor(
    readonly acked: number[],
    readonly primaryOnly: boolean,
    vv: VersionVector,
  ) {
    this.#vv = vv;
  }
  get context(): string {
    return (this.#context ??= this.#vv.length === 0 ? '' : encodeContext(this.#vv));
  }
  toJSON(): PutResult {
    return { acked: this.acked, primaryOnly: this.primaryOnly, context: this.context };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): PutResult {
    return this.toJSON();
  }
}

function toResult(clock: StoredClock | null, primaryOnly: boolean, context?: VersionVector): GetResult {
  if (clock === null) return new ReadResult(false, [], false, primaryOnly, null, context);
  const values: Value[] = [];
  let tombstones = 0;
  for (const e of clock.entries) {
    for (const s of e.values) {
      if (s.v === null) tombstones++;
      else values.push(s.v);
    }
  }
  for (const s of clock.anonymous) {
    if (s.v === null) tombstones++;
    else values.push(s.v);
  }
  return new ReadResult(values.length > 0, values, values.length === 0 && tombstones > 0, primaryOnly, clock, context);
}

function checkOptions(o: object, allowed: Set<string>, op: string): void {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError(`${op} options must be an object`);
  for (const k in o) {
    if (!allowed.has(k)) {
      throw new InvalidArgumentError(`unknown ${op} option ${k}; allowed: ${[...allowed].join(', ')}`, { option: k });
    }
  }
}

function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3_600_000) {
    throw new InvalidArgumentError(`timeoutMs must be an integer from 1 to 3600000; got ${String(t)}`);
  }
  return t;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : typeof v;
}
