// Cluster configuration: the options an application passes to Cluster.start, their defaults, and validation that
// says exactly what was wrong and what is allowed. The resolved form is plain data, so it can be handed to every
// worker thread and to clients attached from other threads.

import { initialMembership, type Membership } from '../actors/membership/plan.js';
import { DEFAULT_HANDOFF, validateHandoffConfig, type HandoffConfig } from '../actors/membership/handoff-plan.js';
import { InvalidConfigError, show } from '../actors/errors.js';
import { parseLevel, requirement, validateReplication, type Level } from '../actors/quorum/index.js';
import { DEFAULT_VNODES, Ring, type NodeSpec } from '../actors/ring.js';
import type { ConflictMode } from '../actors/types.js';
import type { ReadRepairMode } from '../actors/coordinator/get.js';
import { DEFAULT_HINTS, type HintOptions } from '../actors/replica/index.js';
import { DEFAULT_LINK_OPTIONS, type LinkOptions } from '../actors/link-detector.js';
import { DEFAULT_ANTI_ENTROPY, validateAntiEntropyConfig, type AntiEntropyConfig } from '../actors/anti-entropy/index.js';
import { DEFAULT_DETECTOR, DEFAULT_RESTART, type DetectorOptions, type RestartOptions } from '../actors/supervision.js';

/** Anti-entropy options: the protocol's (actors/anti-entropy.ts) plus the runtime's rebuild pool and health bound. */
export interface AntiEntropyOptions extends AntiEntropyConfig {
  /** cluster.health() flags a node whose last complete repair is older than this (ms) */
  maxRepairAgeMs: number;
  /** a rebuild of at least this many stored keys hashes on the worker pool (runtime/hash-pool.ts), else in-thread */
  poolMinKeys: number;
  /** threads of a replica's hashing pool */
  poolThreads: number;
  /** segments per pool task */
  rebuildBatchSegments: number;
}

export const DEFAULT_ANTI_ENTROPY_OPTIONS: AntiEntropyOptions = {
  ...DEFAULT_ANTI_ENTROPY,
  maxRepairAgeMs: 24 * 3600_000,
  poolMinKeys: 50_000,
  poolThreads: 1,
  rebuildBatchSegments: 256,
};

export interface DatacenterSpec {
  name: string;
  /** racks in this datacenter; nodes are dealt round-robin over them (default 1) */
  racks?: number;
  nodes: number;
}

export interface ClusterOptions {
  /** replica actors, one worker thread each (or give `datacenters`) */
  nodes?: number;
  datacenters?: DatacenterSpec[];
  /** N, or N per datacenter ({ dc1: 3, dc2: 2 }) */
  replication?: number | Record<string, number>;
  read?: Level;
  write?: Level;
  conflicts?: ConflictMode;
  vnodes?: number;
  /** hinted writes to fallbacks count toward W (default true, as in Riak) */
  sloppy?: boolean;
  readRepair?: ReadRepairMode;
  /** default per-operation timeout */
  timeoutMs?: number;
  maxKeyBytes?: number;
  maxValueBytes?: number;
  /** messages waiting in one replica's mailbox before senders are refused (OVERLOADED) */
  mailboxCapacity?: number;
  /** operations one client may have in flight */
  maxInFlight?: number;
  /**
   * node addresses the cluster may ever use, joins included (ids are never reused): shared memory and link tables
   * are sized by it; default max(16, 2 * nodes), at most MAX_NODES
   */
  maxNodes?: number;
  /** per replica store bounds */
  storeMaxKeys?: number;
  storeArenaBytes?: number;
  /** the datacenter this cluster's clients are in, for LOCAL_* levels (default: the first) */
  localDc?: string;
  /** sloppy quorum: a primary that has not acked a write within this gets a hinted copy on its stand-in (ms) */
  hintAfterMs?: number;
  /**
   * 0 (default): a write stays with its coordinating replica (exactly one copy of it can exist). > 0: a write whose
   * coordinator has not answered within this many ms is sent to the next replica as well: more writes succeed while a
   * coordinator fails, but at least once: if the first one applied it too, the value exists twice (see README)
   */
  coordinatorFailoverMs?: number;
  /** a read still short of R after this asks one more replica (ms) */
  readRetryMs?: number;
  /** 'quorum' (default): a read asks R replicas, more only if some fail; 'all': it asks all N and takes the first R */
  readFanout?: 'quorum' | 'all';
  /**
   * Reads served from replicas' shared memory with no message: 'quorum' (default: any R, the first R primaries'
   * stores are read and merged, stale ones repaired by message), 'one' (consistency-ONE reads only), 'off' (every
   * read asks by message). A replica paused, cut off or behind an injected delay is always asked by message, and so
   * is a read with blocking read repair or one that counts hints.
   */
  sharedMemoryReads?: 'one' | 'quorum' | 'off';
  /**
   * Whether a stand-in's "not found" counts toward R (default false). A stand-in answers a read only in place of a
   * primary that is down, failed or slow, and holds hints, not the key: by default its empty answer does not count, so
   * it never outvotes a primary that holds the key (a read then waits for the primary, or fails QUORUM_UNREACHABLE).
   * true trades that for availability: a read can answer "not found" while the primaries that hold the key are away.
   */
  standInNotFoundOk?: boolean;
  /** hinted handoff bounds (sloppy quorum) */
  hints?: Partial<HintOptions>;
  /**
   * Per-link failure detection from the messages themselves: a replica that leaves a request unanswered for
   * its learnt round trip plus four deviations, at least `timeoutMs` (default 500; `initialTimeoutMs`, default 1000,
   * before it has answered anything), is down for that sender, and is probed every `probeIntervalMs` (default 250)
   */
  links?: Partial<LinkOptions>;
  /** phi accrual failure detection by the supervisor */
  failureDetector?: Partial<DetectorOptions>;
  /** restart intensity: at most maxRestarts within withinMs, each after delayMs */
  restart?: Partial<RestartOptions>;
  /** anti-entropy: Merkle trees per range, periodic exchanges (intervalMs, 0 = off), tombstone reaping */
  antiEntropy?: Partial<AntiEntropyOptions>;
  /** membership changes' streams: bytes in flight and per batch, keys per batch, resend after (ms) */
  handoff?: Partial<HandoffConfig>;
}

export interface ResolvedConfig {
  nodes: NodeSpec[];
  datacenters: string[];
  replication: Record<string, number>;
  read: Level;
  write: Level;
  conflicts: ConflictMode;
  vnodes: number;
  sloppy: boolean;
  readRepair: ReadRepairMode;
  timeoutMs: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  mailboxCapacity: number;
  maxInFlight: number;
  maxNodes: number;
  storeMaxKeys: number;
  storeArenaBytes: number;
  localDc: string;
  maxPendingPuts: number;
  tickMs: number;
  hintAfterMs: number;
  coordinatorFailoverMs: number;
  readRetryMs: number;
  readFanout: 'quorum' | 'all';
  sharedMemoryReads: 'one' | 'quorum' | 'off';
  standInNotFoundOk: boolean;
  hints: HintOptions;
  links: LinkOptions;
  failureDetector: DetectorOptions;
  restart: RestartOptions;
  antiEntropy: AntiEntropyOptions;
  handoff: HandoffConfig;
}

export const DEFAULTS = {
  nodes: 5,
  replication: 3,
  read: 'QUORUM' as Level,
  write: 'QUORUM' as Level,
  conflicts: 'siblings' as ConflictMode,
  sloppy: true,
  readRepair: 'async' as ReadRepairMode,
  timeoutMs: 5000,
  maxKeyBytes: 1024,
  maxValueBytes: 1 << 20,
  mailboxCapacity: 1 << 16,
  maxInFlight: 1 << 16,
  storeMaxKeys: 1 << 18,
  storeArenaBytes: 64 << 20,
  tickMs: 10,
};

const KNOWN = new Set([
  'nodes',
  'datacenters',
  'replication',
  'read',
  'write',
  'conflicts',
  'vnodes',
  'sloppy',
  'readRepair',
  'timeoutMs',
  'maxKeyBytes',
  'maxValueBytes',
  'mailboxCapacity',
  'maxInFlight',
  'maxNodes',
  'storeMaxKeys',
  'storeArenaBytes',
  'localDc',
  'hints',
  'links',
  'hintAfterMs',
  'coordinatorFailoverMs',
  'readRetryMs',
  'readFanout',
  'sharedMemoryReads',
  'standInNotFoundOk',
  'failureDetector',
  'restart',
  'antiEntropy',
  'handoff',
  'runtime',
  'seed',
]);

export function intOption(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${name} must be an integer from ${min} to ${max}; got ${show(value)}`, {
      option: name,
      value,
      min,
      max,
    });
  }
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidConfigError(`${name} must be one of ${allowed.join(', ')}; got ${show(value)}`, {
      option: name,
      value,
    });
  }
  return value as T;
}

export const MAX_NODES = 256;
const DC_KEYS = ['name', 'racks', 'nodes'];

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${show(v)}`;
}

/** Most keys a store can be created with (runtime/store.ts). */
const MAX_STORE_KEYS = 1 << 26;
/** Bytes per hint record beyond its clock, on average, for sizing (store header, owner, key id, queued-at entry). */
const HINT_RECORD_BYTES = 64;

let hintTtlWarned = false;
function warnHintTtl(): void {
  if (hintTtlWarned) return;
  hintTtlWarned = true;
  process.emitWarning(
    'hints.hintTtlMs has no effect: hints are no longer dropped by age (that lost writes acknowledged only through a hint); ' +
      'bound hints at admission with hints.maxHintWindowMs, maxHintsPerOwner and maxBytesPerOwner',
    { type: 'DeprecationWarning', code: 'LEADERLESS_HINT_TTL' },
  );
}

/**
 * A node's hint store, sized from the hint bounds so that it holds every other node's queue at its key bound, plus
 * the dot floor's record (actors/replica.ts): it never fills before the bound a write is refused by. Its bytes are
 * capped (2 GiB, and 4 x storeArenaBytes) so that a large cluster does not reserve absurd address space: beyond the
 * cap, the arena is a per-node total that hinted writes are refused at (counted, nothing left behind).
 */
export function hintStoreSize(config: Pick<ResolvedConfig, 'nodes' | 'hints' | 'storeArenaBytes'>): { maxKeys: number; arenaBytes: number } {
  const others = Math.max(1, config.nodes.length - 1);
  const maxKeys = config.hints.maxHintsPerOwner * others + 1;
  if (maxKeys > MAX_STORE_KEYS) {
    throw new InvalidConfigError(
      `hints.maxHintsPerOwner (${config.hints.maxHintsPerOwner}) x ${others} other nodes is more hints than a node's hint store ` +
        `can hold (${MAX_STORE_KEYS - 1}); lower hints.maxHintsPerOwner to at most ${Math.floor((MAX_STORE_KEYS - 1) / others)}`,
    );
  }
  // two semispaces (runtime/store.ts compacts by copying) of every queue's bytes plus record overheads
  const arenaBytes = Math.min(2 * (config.hints.maxBytesPerOwner * others + maxKeys * HINT_RECORD_BYTES), 2 ** 31 - 1, 4 * config.storeArenaBytes);
  return { maxKeys: Math.max(16, maxKeys), arenaBytes: Math.max(1 << 16, arenaBytes) };
}

function nodeSpecs(options: ClusterOptions): { nodes: NodeSpec[]; datacenters: string[] } {
  if (options.datacenters !== undefined) {
    if (options.nodes !== undefined) {
      throw new InvalidConfigError('give either nodes or datacenters, not both');
    }
    if (!Array.isArray(options.datacenters) || options.datacenters.length === 0) {
      throw new InvalidConfigError('datacenters must be a non-empty array of { name, racks?, nodes }');
    }
    const nodes: NodeSpec[] = [];
    const names: string[] = [];
    for (const dc of options.datacenters) {
      for (const k of Object.keys(dc ?? {})) {
        if (!DC_KEYS.includes(k)) throw new InvalidConfigError(`unknown datacenter option ${k}; allowed: ${DC_KEYS.join(', ')}`);
      }
      if (typeof dc?.name !== 'string' || dc.name === '') {
        throw new InvalidConfigError('every datacenter needs a non-empty string name');
      }
      if (names.includes(dc.name)) throw new InvalidConfigError(`datacenter ${dc.name} is named twice`);
      names.push(dc.name);
      const count = intOption(dc.nodes, `datacenters[${dc.name}].nodes`, 1, MAX_NODES);
      const racks = intOption(dc.racks ?? 1, `datacenters[${dc.name}].racks`, 1, count);
      for (let i = 0; i < count; i++) {
        nodes.push({ id: nodes.length, dc: dc.name, rack: `${dc.name}/rack${i % racks}` });
      }
    }
    intOption(nodes.length, 'total nodes', 1, MAX_NODES);
    return { nodes, datacenters: names };
  }
  const count = intOption(options.nodes ?? DEFAULTS.nodes, 'nodes', 1, MAX_NODES);
  const nodes = Array.from({ length: count }, (_, id) => ({ id, dc: 'dc1', rack: 'dc1/rack0' }));
  return { nodes, datacenters: ['dc1'] };
}

/** Validates a nested options object field by field against [min, max] ranges; unknown fields are refused. */
function subOptions<T extends object>(name: string, given: Partial<T> | undefined, defaults: T, ranges: Record<keyof T, [number, number]>): T {
  if (given === undefined) return { ...defaults };
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidConfigError(`${name} must be an object of { ${Object.keys(ranges).join(', ')} }; got ${describe(given)}`);
  }
  const out = { ...defaults };
  for (const [k, v] of Object.entries(given)) {
    const range = (ranges as Record<string, [number, number]>)[k];
    if (range === undefined) {
      throw new InvalidConfigError(`unknown option ${name}.${k}; allowed: ${Object.keys(ranges).join(', ')}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < range[0] || v > range[1]) {
      throw new InvalidConfigError(`${name}.${k} must be a number from ${range[0]} to ${range[1]}; got ${show(v)}`);
    }
    (out as Record<string, number>)[k] = v;
  }
  return out;
}

/** Cluster.start's argument must be a plain object (or nothing): null, an array or a number is refused by name. */
export function checkOptionsObject(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidConfigError(`Cluster.start takes an options object, e.g. { nodes: 5 }; got ${describe(options)}`);
  }
}

export function resolveConfig(options: ClusterOptions = {}): ResolvedConfig {
  checkOptionsObject(options);
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) {
      throw new InvalidConfigError(`unknown option ${k}; allowed: ${[...KNOWN].join(', ')}`, { option: k });
    }
  }
  // The thread runtime draws nothing at random, but a harness passes the same options to both runtimes.
  if ((options as { seed?: unknown }).seed !== undefined) intOption((options as { seed?: unknown }).seed, 'seed', 0, 2 ** 32 - 1);
  const placement = resolvePlacement(options);
  const config: ResolvedConfig = { ...placement, ...resolveLevels(options, placement), ...resolveScalars(options), ...resolveSubOptions(options) };
  if (typeof config.sloppy !== 'boolean') throw new InvalidConfigError('sloppy must be true or false');
  if (typeof config.standInNotFoundOk !== 'boolean') throw new InvalidConfigError('standInNotFoundOk must be true or false');
  validateAntiEntropyConfig(config.antiEntropy); // powers of two and integers, beyond the ranges above
  validateHandoffConfig(config.handoff); // a batch no larger than what may be in flight
  if (config.hints.hintTtlMs !== undefined) warnHintTtl();
  hintStoreSize(config); // refuses hint bounds no hint store can hold
  config.maxPendingPuts = config.mailboxCapacity;
  const n = config.nodes.length;
  config.maxNodes = intOption(options.maxNodes ?? Math.min(MAX_NODES, Math.max(16, 2 * n)), 'maxNodes', n, MAX_NODES);
  ringOf(config); // validates the placement can be built
  return config;
}

/** The cluster's first membership (epoch 1): the ring of the configured nodes; changes are replayed over it. */
export function baseMembership(config: Pick<ResolvedConfig, 'nodes' | 'vnodes' | 'replication'>): Membership {
  return initialMembership({ nodes: config.nodes, vnodes: config.vnodes, replication: config.replication });
}

/** The ring a configuration places keys on (the one function every runtime builds it with). */
export function ringOf(config: Pick<ResolvedConfig, 'nodes' | 'vnodes' | 'replication'>): Ring {
  return new Ring({ nodes: config.nodes, vnodes: config.vnodes, replication: config.replication });
}

type Placement = Pick<ResolvedConfig, 'nodes' | 'datacenters' | 'replication' | 'localDc' | 'vnodes'>;

/** Nodes, datacenters, N per datacenter, the local datacenter and vnodes: where keys live. */
function resolvePlacement(options: ClusterOptions): Placement {
  const { nodes, datacenters } = nodeSpecs(options);
  let rep = options.replication ?? Math.min(DEFAULTS.replication, nodes.length);
  if (typeof rep === 'number') {
    if (datacenters.length > 1) {
      throw new InvalidConfigError(
        `with several datacenters, replication must name N per datacenter, e.g. { ${datacenters.map((d) => `${d}: 2`).join(', ')} }`,
      );
    }
    rep = { [datacenters[0]]: rep };
  }
  if (rep === null || typeof rep !== 'object') {
    throw new InvalidConfigError('replication must be a number or an object of N per datacenter');
  }
  for (const dc of Object.keys(rep)) {
    if (!datacenters.includes(dc)) {
      throw new InvalidConfigError(`replication names datacenter ${dc}, which does not exist; datacenters: ${datacenters.join(', ')}`);
    }
  }
  const nodesByDc: Record<string, number> = {};
  for (const n of nodes) nodesByDc[n.dc] = (nodesByDc[n.dc] ?? 0) + 1;
  validateReplication(rep, nodesByDc);
  const localDc = options.localDc ?? datacenters[0];
  if (!datacenters.includes(localDc)) {
    throw new InvalidConfigError(`localDc ${show(localDc)} does not exist; datacenters: ${datacenters.join(', ')}`);
  }
  const vnodes = intOption(options.vnodes ?? DEFAULT_VNODES, 'vnodes', 1, 4096);
  return { nodes, datacenters, replication: rep, localDc, vnodes };
}

/** The default read and write levels, refused when the placement cannot meet them. */
function resolveLevels(options: ClusterOptions, p: Placement): Pick<ResolvedConfig, 'read' | 'write'> {
  const read = parseLevel(options.read ?? DEFAULTS.read, 'read');
  const write = parseLevel(options.write ?? DEFAULTS.write, 'write');
  const topo = { replicationByDc: p.replication, localDc: p.localDc };
  requirement(read, 'read', topo); // throws when impossible
  requirement(write, 'write', topo);
  return { read, write };
}

type Scalars = Omit<ResolvedConfig, keyof Placement | 'read' | 'write' | 'hints' | 'links' | 'failureDetector' | 'restart' | 'antiEntropy' | 'handoff'>;

function resolveScalars(options: ClusterOptions): Scalars {
  return {
    conflicts: oneOf(options.conflicts ?? DEFAULTS.conflicts, 'conflicts', ['siblings', 'lww'] as const),
    sloppy: options.sloppy ?? DEFAULTS.sloppy,
    readRepair: oneOf(options.readRepair ?? DEFAULTS.readRepair, 'readRepair', ['async', 'blocking', 'off'] as const),
    timeoutMs: intOption(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', 1, 3_600_000),
    maxKeyBytes: intOption(options.maxKeyBytes ?? DEFAULTS.maxKeyBytes, 'maxKeyBytes', 1, 1 << 16),
    maxValueBytes: intOption(options.maxValueBytes ?? DEFAULTS.maxValueBytes, 'maxValueBytes', 0, 64 << 20),
    mailboxCapacity: intOption(options.mailboxCapacity ?? DEFAULTS.mailboxCapacity, 'mailboxCapacity', 16, 1 << 24),
    maxInFlight: intOption(options.maxInFlight ?? DEFAULTS.maxInFlight, 'maxInFlight', 1, 1 << 24),
    storeMaxKeys: intOption(options.storeMaxKeys ?? DEFAULTS.storeMaxKeys, 'storeMaxKeys', 16, 1 << 26),
    storeArenaBytes: intOption(options.storeArenaBytes ?? DEFAULTS.storeArenaBytes, 'storeArenaBytes', 1 << 16, 2 ** 31 - 1),
    maxPendingPuts: 0,
    maxNodes: 0,
    tickMs: DEFAULTS.tickMs,
    hintAfterMs: intOption(options.hintAfterMs ?? 500, 'hintAfterMs', 1, 3_600_000),
    coordinatorFailoverMs: intOption(options.coordinatorFailoverMs ?? 0, 'coordinatorFailoverMs', 0, 3_600_000),
    readRetryMs: intOption(options.readRetryMs ?? 500, 'readRetryMs', 1, 3_600_000),
    readFanout: oneOf(options.readFanout ?? 'quorum', 'readFanout', ['quorum', 'all'] as const),
    sharedMemoryReads: oneOf(options.sharedMemoryReads ?? 'quorum', 'sharedMemoryReads', ['one', 'quorum', 'off'] as const),
    standInNotFoundOk: options.standInNotFoundOk ?? false,
  };
}

function resolveSubOptions(options: ClusterOptions): Pick<ResolvedConfig, 'hints' | 'links' | 'failureDetector' | 'restart' | 'antiEntropy' | 'handoff'> {
  return {
    handoff: subOptions('handoff', options.handoff, DEFAULT_HANDOFF, {
      maxBytesInFlight: [1024, 1 << 30],
      maxBatchBytes: [256, 1 << 26],
      maxKeysPerBatch: [1, 1 << 16],
      retryAfterMs: [1, 3_600_000],
      maxStreamsPerNode: [1, 1024],
    }),
    hints: subOptions('hints', options.hints, DEFAULT_HINTS, {
      maxHintsPerOwner: [1, 1 << 24],
      maxBytesPerOwner: [1024, 2 ** 31 - 1],
      maxHintWindowMs: [1, 30 * 86_400_000],
      hintTtlMs: [1, 30 * 86_400_000], // deprecated, no effect (actors/replica.ts HintOptions)
      handoffBatch: [1, 65536],
      handoffTimeoutMs: [1, 3_600_000],
    }),
    links: subOptions('links', options.links, { ...DEFAULT_LINK_OPTIONS }, {
      timeoutMs: [1, 3_600_000],
      initialTimeoutMs: [1, 3_600_000],
      probeIntervalMs: [1, 3_600_000],
    }),
    failureDetector: subOptions('failureDetector', options.failureDetector, DEFAULT_DETECTOR, {
      threshold: [0.5, 100],
      sampleMs: [1, 60_000],
      minStdDeviationMs: [1, 60_000],
      acceptableHeartbeatPauseMs: [0, 3_600_000],
    }),
    restart: subOptions('restart', options.restart, DEFAULT_RESTART, {
      maxRestarts: [0, 1000],
      withinMs: [1, 86_400_000],
      delayMs: [0, 3_600_000],
    }),
    antiEntropy: subOptions('antiEntropy', options.antiEntropy, DEFAULT_ANTI_ENTROPY_OPTIONS, {
      segments: [1, 1 << 20],
      fanout: [2, 256],
      intervalMs: [0, 86_400_000],
      tombstoneGraceMs: [0, 365 * 86_400_000],
      exchangeTimeoutMs: [1, 3_600_000],
      maxKeysPerMessage: [1, 1 << 16],
      maxNodesPerMessage: [1, 1 << 16],
      maxSegmentsPerRequest: [1, 4096],
      maxExchangesInFlight: [1, 1024],
      maxReapsPerTick: [1, 1 << 20],
      maxRepairAgeMs: [1, 365 * 86_400_000],
      poolMinKeys: [0, 1 << 30],
      poolThreads: [1, 64],
      rebuildBatchSegments: [1, 1 << 16],
    }),
  };
}
