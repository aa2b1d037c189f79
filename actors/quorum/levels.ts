// Quorum levels, pure and deterministic. A consistency level (Cassandra's names, or an explicit count k) plus a
// topology (replicas per datacenter, the coordinator's datacenter) becomes a Requirement: `total` acks in all, `perDc`
// acks from named datacenters (LOCAL_*, EACH_QUORUM), and `hintsCount` (ANY: a hint on a fallback is enough). A
// Requirement is plain data so it can travel inside a message. Use: parseLevel on user input, validateReplication on
// the cluster config, requirement() per request (or once per configured level and reuse it).

import { InvalidArgumentError, InvalidConfigError, show } from '../errors.js';

export type ConsistencyLevel =
  | 'ONE'
  | 'TWO'
  | 'THREE'
  | 'QUORUM'
  | 'ALL'
  | 'ANY'
  | 'LOCAL_ONE'
  | 'LOCAL_QUORUM'
  | 'EACH_QUORUM';

export const CONSISTENCY_LEVELS: readonly ConsistencyLevel[] = Object.freeze([
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'ANY',
  'LOCAL_ONE',
  'LOCAL_QUORUM',
  'EACH_QUORUM',
] as const);

/** A named level, or an explicit r or w (a positive integer). */
export type Level = ConsistencyLevel | number;

export interface QuorumTopology {
  /** N per datacenter */
  replicationByDc: Readonly<Record<string, number>>;
  /** the coordinator's datacenter */
  localDc: string;
}

export interface Requirement {
  /** for messages, e.g. 'QUORUM' or 'w=2' */
  level: string;
  /** acks needed in all */
  total: number;
  /** acks needed from each named dc (LOCAL_*, EACH_QUORUM); {} when none */
  perDc: Readonly<Record<string, number>>;
  /** ANY: an ack from a fallback holding a hint counts even when sloppy is off */
  hintsCount: boolean;
}

export type Op = 'read' | 'write';

/** A majority of n: floor(n/2)+1. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Sum of N over every datacenter: the replicas a key has in all. */
export function totalReplication(replicationByDc: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const dc of Object.keys(replicationByDc)) n += replicationByDc[dc];
  return n;
}

const letter = (what: Op): string => (what === 'read' ? 'r' : 'w');

function allowedLevels(what: Op): string {
  const names = CONSISTENCY_LEVELS.filter((l) => what === 'write' || l !== 'ANY');
  return `${names.join(', ')} (any case), or a positive integer ${letter(what)}`;
}

/**
 * Parses a level from user input: a level name (case-insensitive; '-' may stand for '_'), a positive integer, or a
 * positive integer written in decimal digits ('2'; not '2.0', '+2' or '02'). ANY is for writes only. Throws
 * InvalidConfigError listing what is allowed.
 */
export function parseLevel(input: unknown, what: Op): Level {
  if (what !== 'read' && what !== 'write') {
    throw new InvalidArgumentError(`parseLevel: what must be 'read' or 'write', got ${String(what)}`);
  }
  if (typeof input === 'number') return checkCount(input, what);
  if (typeof input !== 'string') {
    throw new InvalidConfigError(
      `${what} consistency level must be a string or a number, got ${describe(input)}: use ${allowedLevels(what)}`,
    );
  }
  const text = input.trim();
  if (/^[1-9]\d*$/.test(text)) return checkCount(Number(text), what);
  // Anything else that reads as a number ('2.0', '+2', '02', '0') is refused rather than rounded or guessed at.
  if (/^[+-]?[\d.]+$/.test(text)) {
    throw new InvalidConfigError(
      `${letter(what)}=${text} is not allowed: an explicit ${what} count must be a positive integer ` +
        `(1 up to the replication factor N), as a number or a string of decimal digits without sign, point or leading zero`,
      { [letter(what)]: text },
    );
  }
  const name = text.toUpperCase().replace(/-/g, '_');
  if (!(CONSISTENCY_LEVELS as readonly string[]).includes(name)) {
    throw new InvalidConfigError(`unknown ${what} consistency level "${input}": use ${allowedLevels(what)}`);
  }
  if (name === 'ANY' && what === 'read') throw anyReadError();
  return name as ConsistencyLevel;
}

function anyReadError(): InvalidConfigError {
  return new InvalidConfigError(
    'read consistency level ANY is not allowed: ANY is for writes only (a hint cannot answer a read), ' +
      'use ONE or a stronger level',
  );
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${show(x)}`;
}

function checkCount(k: number, what: Op): number {
  if (!Number.isSafeInteger(k) || k < 1) {
    throw new InvalidConfigError(
      `${letter(what)}=${k} is not allowed: an explicit ${what} count must be a positive integer ` +
        `(1 up to the replication factor N)`,
      { [letter(what)]: k },
    );
  }
  return k;
}

/** Checks a topology's shape: at least one dc, each N a positive integer, localDc among them. */
function checkTopology(topo: QuorumTopology): number {
  const isObject = (x: unknown): boolean => x !== null && typeof x === 'object';
  if (!isObject(topo) || !isObject(topo.replicationByDc)) {
    throw new InvalidConfigError('quorum topology must be { replicationByDc: { dc: N, ... }, localDc }');
  }
  const dcs = Object.keys(topo.replicationByDc);
  if (dcs.length === 0) {
    throw new InvalidConfigError('replicationByDc names no datacenter: give at least one, e.g. { dc1: 3 }');
  }
  for (const dc of dcs) checkN(dc, topo.replicationByDc[dc]);
  if (!Object.prototype.hasOwnProperty.call(topo.replicationByDc, topo.localDc)) {
    throw new InvalidConfigError(
      `local datacenter "${String(topo.localDc)}" is not in replicationByDc: ` +
        `the coordinator's datacenter must be one of ${dcs.join(', ')}`,
      { localDc: topo.localDc, dcs },
    );
  }
  return totalReplication(topo.replicationByDc);
}

function checkN(dc: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidConfigError(
      `replication factor for datacenter ${dc} is ${String(n)}: it must be a positive integer (replicas of each key ` +
        `in that datacenter)`,
      { dc, n },
    );
  }
}

/**
 * The acks a level needs for one operation in a topology. Throws InvalidConfigError when the level can never be
 * met (more acks than replicas), is unknown, or is ANY for a read.
 */
export function requirement(level: Level, op: Op, topo: QuorumTopology): Requirement {
  if (op !== 'read' && op !== 'write') {
    throw new InvalidArgumentError(`requirement: op must be 'read' or 'write', got ${String(op)}`);
  }
  const n = checkTopology(topo);
  const parsed = parseLevel(level, op);
  if (typeof parsed === 'number') return countRequirement(parsed, op, n);
  return namedRequirement(parsed, op, topo, n);
}

function countRequirement(k: number, op: Op, n: number): Requirement {
  const name = `${letter(op)}=${k}`;
  if (k > n) {
    throw new InvalidConfigError(
      `${name} exceeds the replication factor N=${n}: at most ${n} replicas can acknowledge`,
      { [letter(op)]: k, n },
    );
  }
  return { level: name, total: k, perDc: {}, hintsCount: false };
}

function namedRequirement(level: ConsistencyLevel, op: Op, topo: QuorumTopology, n: number): Requirement {
  const local = topo.localDc;
  const nLocal = topo.replicationByDc[local];
  const plain = (total: number): Requirement => ({ level, total, perDc: {}, hintsCount: false });
  switch (level) {
    case 'ONE':
      return plain(1);
    case 'TWO':
    case 'THREE':
      return fixedCount(level, level === 'TWO' ? 2 : 3, n);
    case 'QUORUM':
      return plain(quorum(n));
    case 'ALL':
      return plain(n);
    case 'ANY':
      if (op === 'read') throw anyReadError();
      return { level, total: 1, perDc: {}, hintsCount: true };
    case 'LOCAL_ONE':
      return { level, total: 1, perDc: { [local]: 1 }, hintsCount: false };
    case 'LOCAL_QUORUM':
      return { level, total: quorum(nLocal), perDc: { [local]: quorum(nLocal) }, hintsCount: false };
    case 'EACH_QUORUM':
      return eachQuorum(topo.replicationByDc);
  }
}

function fixedCount(level: 'TWO' | 'THREE', k: number, n: number): Requirement {
  if (k > n) {
    throw new InvalidConfigError(
      `${level} needs ${k} acks but the replication factor is N=${n}: at most ${n} replicas can acknowledge`,
      { level, needed: k, n },
    );
  }
  return { level, total: k, perDc: {}, hintsCount: false };
}

function eachQuorum(replicationByDc: Readonly<Record<string, number>>): Requirement {
  const perDc: Record<string, number> = {};
  let total = 0;
  for (const dc of Object.keys(replicationByDc)) {
    perDc[dc] = quorum(replicationByDc[dc]);
    total += perDc[dc];
  }
  return { level: 'EACH_QUORUM', total, perDc, hintsCount: false };
}

/**
 * Checks the replication config against the cluster: every N a positive integer, every dc with nodes, N at most
 * the nodes in its dc (a key's replicas sit on distinct nodes). Throws InvalidConfigError.
 */
export function validateReplication(
  replicationByDc: Record<string, number>,
  nodesByDc: Record<string, number>,
): void {
  if (replicationByDc === null || typeof replicationByDc !== 'object' || Object.keys(replicationByDc).length === 0) {
    throw new InvalidConfigError('replication names no datacenter: give at least one, e.g. { dc1: 3 }');
  }
  const withNodes = Object.keys(nodesByDc ?? {}).filter((dc) => nodesByDc[dc] > 0);
  for (const dc of Object.keys(replicationByDc)) {
    const n = replicationByDc[dc];
    checkN(dc, n);
    const nodes = Object.prototype.hasOwnProperty.call(nodesByDc ?? {}, dc) ? nodesByDc[dc] : 0;
    if (typeof nodes !== 'number' || !Number.isSafeInteger(nodes) || nodes < 0) {
      throw new InvalidConfigError(`node count for datacenter ${dc} is ${String(nodes)}: it must be an integer >= 0`);
    }
    if (nodes === 0) {
      throw new InvalidConfigError(
        `replication names datacenter ${dc} (N=${n}), which has no nodes: ` +
          `datacenters with nodes are ${withNodes.length > 0 ? withNodes.join(', ') : '(none)'}`,
        { dc, n },
      );
    }
    if (n > nodes) {
      throw new InvalidConfigError(
        `replication factor N=${n} in datacenter ${dc} exceeds its ${nodes} nodes: a key's replicas sit on ` +
          `distinct nodes, so N is at most ${nodes} there`,
        { dc, n, nodes },
      );
    }
  }
}
