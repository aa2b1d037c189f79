// Quorum arithmetic and the counting cores, pure and deterministic.
//
// Two halves:
//
// 1. Levels. A consistency level (Cassandra's names, or an explicit count k) plus a topology (replicas per
//    datacenter, the coordinator's datacenter) becomes a Requirement: `total` acks in all, `perDc` acks from named
//    datacenters (LOCAL_*, EACH_QUORUM), and `hintsCount` (ANY: a hint on a fallback is enough). A Requirement is
//    plain data so it can travel inside a message. Use: parseLevel on user input, validateReplication on the
//    cluster config, requirement() per request (or once per configured level and reuse it).
//
// 2. Counting cores, after Riak's riak_kv_put_core / riak_kv_get_core. A core is a small mutable object: one slot
//    per placed target (node, dc index, countable?, state) and running counters, so adding a reply and asking for
//    the status are O(number of datacenters named in perDc). The coordinator calls newPutCore, then putAddReply
//    per reply, then putStatus; once it is not 'pending' (or the deadline passed: putTimeout) it reads putOutcome.
//    Same for reads with the get* functions. Status is monotone: once 'ok' or 'failed' it never changes, because
//    replies only move a target out of 'pending' and duplicates are ignored.
//
// A reply counts when it came from a primary, or from a fallback while sloppy quorum is on, or (ANY) from any
// fallback holding a hint. A fallback's ack that does not count is still recorded (uncountedNodes): it stored a
// hint even if the write failed.

import { InvalidArgumentError, InvalidConfigError, show } from './errors.js';

// ---------------------------------------------------------------------------------------------------------------
// Levels

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

// ---------------------------------------------------------------------------------------------------------------
// Counting cores

/** A placed target, as the ring annotated it. */
export interface Target {
  node: number;
  dc: string;
  primary: boolean;
  /** a stand-in (a fallback): the primary it stands in for; reads count a stand-in's reply by the rules of the get core */
  hintFor?: number;
}

export type CoreStatus = 'pending' | 'ok' | 'failed';

export interface CoreOutcome {
  ok: boolean;
  /** acks needed in all (req.total) */
  needed: number;
  /** acks that counted */
  acked: number;
  /** nodes whose ack counted, in reply order */
  ackedNodes: number[];
  /** nodes that answered with an error or timed out, in target order */
  failedNodes: number[];
  /** nodes that have not answered, in target order */
  pendingNodes: number[];
  /** fallbacks that answered ok but did not count (sloppy quorum off): they hold a hint all the same */
  uncountedNodes: number[];
  /** nodes still pending when the core timed out (also in failedNodes) */
  timedOutNodes: number[];
  /** true when every counted reply came from a primary */
  primaryOnly: boolean;
  /** one sentence: what was needed, what answered, which failed */
  message: string;
}

/** At most this many targets per request: N plus fallbacks never comes near it. */
export const MAX_TARGETS = 256;

const PENDING = 0;
const ACKED = 1;
const FAILED = 2;
const TIMED_OUT = 3;
const UNCOUNTED = 4;
/** a target that will never be asked (a stand-in whose primary acked): neither pending nor failed */
const WITHDRAWN = 5;

/** The state shared by both cores. Slots are indexed by target position. */
interface Tally {
  op: Op;
  req: Requirement;
  sloppy: boolean;
  nodes: number[];
  primary: boolean[];
  countable: boolean[];
  /** index into dcNames, or -1 when the target's dc has no perDc requirement */
  dcSlot: number[];
  /** per target: PENDING, ACKED, ... (a plain array: targets are few, and typed-array allocation is slow in V8) */
  state: number[];
  /** dcs named in req.perDc, with what each needs, has counted, and could still count */
  dcNames: string[];
  dcNeeded: number[];
  dcCounted: number[];
  dcOpen: number[];
  counted: number;
  /** pending targets whose ack would count */
  open: number;
  countedFallbacks: number;
  ackOrder: number[];
  timedOut: boolean;
}

export interface PutCore {
  tally: Tally;
  /** per target: the primary whose seat it fills (see seatsOf) */
  seat: number[];
}

export interface GetCore {
  tally: Tally;
  found: number;
  notfound: number;
  /** per target: the primary it answers for (its own node, or a stand-in's hintFor); -1: none (counted alone) */
  seat: number[];
  standInNotFoundOk: boolean;
}

function checkRequirement(req: Requirement): void {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(`requirement ${what}; build it with requirement()`);
  };
  if (req === null || typeof req !== 'object') bad('must be an object');
  if (!Number.isSafeInteger(req.total) || req.total < 1) bad(`total must be a positive integer, got ${req.total}`);
  let sum = 0;
  for (const dc of Object.keys(req.perDc ?? bad('perDc is missing'))) {
    const k = req.perDc[dc];
    if (!Number.isSafeInteger(k) || k < 1) bad(`perDc.${dc} must be a positive integer, got ${k}`);
    sum += k;
  }
  if (sum > req.total) bad(`perDc sums to ${sum}, more than total ${req.total}`);
}

function newTally(op: Op, req: Requirement, targets: readonly Target[], sloppy: boolean): Tally {
  checkRequirement(req);
  if (!Array.isArray(targets) || targets.length > MAX_TARGETS) {
    throw new InvalidArgumentError(`targets must be an array of at most ${MAX_TARGETS} targets`);
  }
  const dcNames = Object.keys(req.perDc);
  const t: Tally = {
    op, req, sloppy: sloppy === true,
    nodes: [], primary: [], countable: [], dcSlot: [],
    state: new Array<number>(targets.length).fill(PENDING),
    dcNames, dcNeeded: dcNames.map((dc) => req.perDc[dc]),
    dcCounted: dcNames.map(() => 0), dcOpen: dcNames.map(() => 0),
    counted: 0, open: 0, countedFallbacks: 0, ackOrder: [], timedOut: false,
  };
  targets.forEach((target, i) => addTarget(t, target, i));
  return t;
}

function addTarget(t: Tally, target: Target, i: number): void {
  const { node, dc, primary } = target;
  if (!Number.isSafeInteger(node) || node < 0) {
    throw new InvalidArgumentError(`target ${i} has node ${node}: a node id is an integer >= 0`);
  }
  if (t.nodes.includes(node)) {
    throw new InvalidArgumentError(`node ${node} is placed twice in targets: each node may appear once`);
  }
  const countable = primary || t.sloppy || t.req.hintsCount;
  const slot = t.dcNames.indexOf(dc);
  t.nodes.push(node);
  t.primary.push(primary === true);
  t.countable.push(countable);
  t.dcSlot.push(slot);
  if (countable) {
    t.open++;
    if (slot >= 0) t.dcOpen[slot]++;
  }
}

/** Records one reply; false when it was ignored (unknown node, second reply, or after a timeout). */
function tallyReply(t: Tally, node: number, ok: boolean): boolean {
  // a linear search: a request has a handful of targets (at most MAX_TARGETS), and a Map per request costs more
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || t.timedOut) return false;
  const slot = t.dcSlot[i];
  if (t.countable[i]) {
    t.open--;
    if (slot >= 0) t.dcOpen[slot]--;
  }
  if (!ok) {
    t.state[i] = FAILED;
    return true;
  }
  if (!t.countable[i]) {
    t.state[i] = UNCOUNTED;
    return true;
  }
  t.state[i] = ACKED;
  t.counted++;
  t.ackOrder.push(node);
  if (slot >= 0) t.dcCounted[slot]++;
  if (!t.primary[i]) t.countedFallbacks++;
  return true;
}

function tallyStatus(t: Tally): CoreStatus {
  let met = t.counted >= t.req.total;
  let possible = t.counted + t.open >= t.req.total;
  for (let s = 0; s < t.dcNames.length; s++) {
    if (t.dcCounted[s] < t.dcNeeded[s]) met = false;
    if (t.dcCounted[s] + t.dcOpen[s] < t.dcNeeded[s]) possible = false;
  }
  if (met) return 'ok';
  return possible ? 'pending' : 'failed';
}

/** A pending target will never be asked: it no longer counts as possible (false when it was not pending). */
function tallyWithdraw(t: Tally, node: number): boolean {
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || t.timedOut) return false;
  if (t.countable[i]) {
    t.open--;
    if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
  }
  t.state[i] = WITHDRAWN;
  return true;
}

/** Whether counting `node` failed would make the requirement impossible (false for a node not pending or not counted). */
function tallyNeeds(t: Tally, node: number): boolean {
  const i = t.nodes.indexOf(node);
  if (i < 0 || t.state[i] !== PENDING || !t.countable[i] || t.timedOut) return false;
  if (t.counted + t.open - 1 < t.req.total) return true;
  const slot = t.dcSlot[i];
  return slot >= 0 && t.dcCounted[slot] + t.dcOpen[slot] - 1 < t.dcNeeded[slot];
}

/** Every pending target becomes timed out; the status is then 'ok' or 'failed', never 'pending'. */
function tallyTimeout(t: Tally): void {
  if (t.timedOut) return;
  for (let i = 0; i < t.nodes.length; i++) {
    if (t.state[i] !== PENDING) continue;
    t.state[i] = TIMED_OUT;
    if (!t.countable[i]) continue;
    t.open--;
    if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
  }
  t.timedOut = true;
}

function nodesIn(t: Tally, ...states: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.nodes.length; i++) if (states.includes(t.state[i])) out.push(t.nodes[i]);
  return out;
}

function tallyOutcome(t: Tally): CoreOutcome {
  const status = tallyStatus(t);
  const outcome: CoreOutcome = {
    ok: status === 'ok',
    needed: t.req.total,
    acked: t.counted,
    ackedNodes: t.ackOrder.slice(),
    failedNodes: nodesIn(t, FAILED, TIMED_OUT),
    pendingNodes: nodesIn(t, PENDING),
    uncountedNodes: nodesIn(t, UNCOUNTED),
    timedOutNodes: nodesIn(t, TIMED_OUT),
    primaryOnly: t.countedFallbacks === 0,
    message: '',
  };
  outcome.message = status === 'ok' ? okMessage(t) : failMessage(t, outcome, status);
  return outcome;
}

// Messages: one sentence each, numbers first, so a log line or an error explains itself.

const list = (nodes: number[]): string => (nodes.length === 0 ? 'none' : nodes.join(','));
const noun = (t: Tally): string => (t.op === 'write' ? 'acks' : 'replies');

function okMessage(t: Tally): string {
  const via = t.countedFallbacks > 0 ? ` (${t.countedFallbacks} from fallbacks)` : '';
  const got = `got ${t.counted} ${noun(t)} (${t.req.total} needed)`;
  return `${t.op} met ${t.req.level}: ${got} from nodes ${list(t.ackOrder)}${via}.`;
}

function failMessage(t: Tally, o: CoreOutcome, status: CoreStatus): string {
  const parts = [
    `${t.op} needed ${t.req.total} ${noun(t)} (${t.req.level}${dcNeeds(t)}), got ${t.counted}` +
      (t.counted > 0 ? ` from nodes ${list(o.ackedNodes)}` : ''),
    failedPart(nodesIn(t, FAILED)),
  ];
  if (o.timedOutNodes.length > 0) parts.push(`timed out waiting for nodes ${list(o.timedOutNodes)}`);
  else parts.push(`${o.pendingNodes.length} still pending`);
  if (o.uncountedNodes.length > 0) parts.push(uncountedPart(t, o.uncountedNodes));
  const short = dcShortfall(t);
  if (short !== '') parts.push(short);
  if (status === 'failed' && !t.timedOut) parts.push(impossibleWhy(t));
  return parts.join('; ') + '.';
}

function uncountedPart(t: Tally, nodes: number[]): string {
  if (t.op === 'write') return `fallbacks ${list(nodes)} acked but do not count (sloppy quorum is off)`;
  return (
    `replies from nodes ${list(nodes)} do not count: a stand-in's "not found" counts only with standInNotFoundOk, ` +
    `a fallback only with sloppy quorum, and one primary's seat once`
  );
}

function failedPart(failed: number[]): string {
  return failed.length === 0 ? 'no node failed' : `nodes ${list(failed)} failed`;
}

function dcNeeds(t: Tally): string {
  if (t.dcNames.length === 0) return '';
  return ': ' + t.dcNames.map((dc, s) => `${t.dcNeeded[s]} in ${dc}`).join(', ');
}

function dcShortfall(t: Tally): string {
  const short: string[] = [];
  for (let s = 0; s < t.dcNames.length; s++) {
    if (t.dcCounted[s] < t.dcNeeded[s]) short.push(`${t.dcNames[s]} has ${t.dcCounted[s]} of ${t.dcNeeded[s]}`);
  }
  return short.length === 0 ? '' : short.join(', ');
}

function impossibleWhy(t: Tally): string {
  const countable = t.countable.filter((c) => c).length;
  const strict = t.nodes.length - countable;
  const why = strict > 0 && !t.sloppy && !t.req.hintsCount ? ` (${strict} fallback targets cannot count: sloppy quorum is off)` : '';
  return `it can no longer be met: ${t.open} countable targets still pending of ${countable} placed${why}`;
}

/** The success path's view: which nodes' replies counted, and whether all were primaries (no message built). */
export interface Counted {
  ackedNodes: readonly number[];
  primaryOnly: boolean;
}

export function counted(core: PutCore | GetCore): Counted {
  return { ackedNodes: core.tally.ackOrder, primaryOnly: core.tally.countedFallbacks === 0 };
}

// Put core ------------------------------------------------------------------------------------------------------

export function newPutCore(req: Requirement, targets: readonly Target[], opts: { sloppy: boolean }): PutCore {
  return { tally: newTally('write', req, targets, opts?.sloppy === true), seat: seatsOf(targets) };
}

/**
 * Adds one write ack (ok) or error (!ok). Ignores unknown nodes, duplicates, and replies after a timeout. A primary's
 * seat counts once, as in the get core: a stand-in's ack fills it, and the primary's late ack then does not count.
 */
export function putAddReply(core: PutCore, node: number, ok: boolean): void {
  const t = core.tally;
  const before = t.counted;
  if (tallyReply(t, node, ok === true) && t.counted > before) fillSeat(t, core.seat, t.nodes.indexOf(node));
}

/**
 * Per target, the primary whose seat it fills: its own node, or a stand-in's hintFor; -1 for a fallback that names
 * no primary (it counts alone).
 */
function seatsOf(targets: readonly Target[]): number[] {
  return targets.map((t) => (t.primary ? t.node : (t.hintFor ?? -1)));
}

/** Target i's reply counted: the others of its seat (the primary, or its other stand-ins) no longer count. */
function fillSeat(t: Tally, seat: readonly number[], i: number): void {
  if (seat[i] < 0) return;
  for (let j = 0; j < t.nodes.length; j++) if (j !== i && seat[j] === seat[i]) uncount(t, j);
}

export function putStatus(core: PutCore): CoreStatus {
  return tallyStatus(core.tally);
}

export function putOutcome(core: PutCore): CoreOutcome {
  return tallyOutcome(core.tally);
}

/**
 * A stand-in that will never be asked (its primary acked): the write stops counting on it, so that it can fail
 * fast when nothing else can answer, instead of waiting out its deadline for a node nobody asked.
 */
export function putWithdraw(core: PutCore, node: number): void {
  tallyWithdraw(core.tally, node);
}

/**
 * Whether the write cannot be met if `node` fails: a coordinator then asks a node its link detector holds down
 * anyway (a stale verdict must not fail it), instead of counting it failed at once.
 */
export function putNeeds(core: PutCore, node: number): boolean {
  return tallyNeeds(core.tally, node);
}

/** The deadline passed: every pending target counts as failed (timed out). Later replies are ignored. */
export function putTimeout(core: PutCore): CoreOutcome {
  tallyTimeout(core.tally);
  return tallyOutcome(core.tally);
}

// Get core ------------------------------------------------------------------------------------------------------

export type GetReply = 'found' | 'notfound' | 'error';
export type GetOutcome = CoreOutcome & { found: number; notfound: number };

export interface GetCoreOptions {
  sloppy: boolean;
  /** a stand-in's "not found" counts toward R (Riak's notfound_ok, for stand-ins only); default false */
  standInNotFoundOk?: boolean;
}

/**
 * A read's targets are primaries and stand-ins (targets with hintFor). A primary's seat counts once: whichever of
 * the primary and its stand-ins first gives a reply that counts fills it, and the others no longer count. A
 * primary's "not found" counts (Riak's notfound_ok); a stand-in's counts only with standInNotFoundOk, because a
 * stand-in holds hints, not the key: its empty answer says nothing about what its primary holds.
 */
export function newGetCore(req: Requirement, targets: readonly Target[], opts: GetCoreOptions): GetCore {
  const tally = newTally('read', req, targets, opts?.sloppy === true);
  return { tally, found: 0, notfound: 0, seat: seatsOf(targets), standInNotFoundOk: opts?.standInNotFoundOk === true };
}

/**
 * Adds one read reply. A primary's notfound is a successful reply (notfound_ok); a stand-in's, only with
 * standInNotFoundOk. found/notfound are counted only for replies that count toward the requirement. Ignores unknown
 * nodes, duplicates, and replies after a timeout.
 */
export function getAddReply(core: GetCore, node: number, reply: GetReply): void {
  if (reply !== 'found' && reply !== 'notfound' && reply !== 'error') {
    throw new InvalidArgumentError(`get reply must be 'found', 'notfound' or 'error', got ${String(reply)}`);
  }
  const t = core.tally;
  const i = t.nodes.indexOf(node);
  const standIn = i >= 0 && !t.primary[i] && core.seat[i] >= 0;
  if (standIn && reply === 'notfound' && !core.standInNotFoundOk) uncount(t, i);
  const before = t.counted;
  if (!tallyReply(t, node, reply !== 'error') || t.counted === before) return;
  if (reply === 'found') core.found++;
  else core.notfound++;
  fillSeat(t, core.seat, i);
}

/** A pending target whose reply will not count (it is recorded as uncounted when it comes). */
function uncount(t: Tally, i: number): void {
  if (t.state[i] !== PENDING || t.timedOut || !t.countable[i]) return;
  t.countable[i] = false;
  t.open--;
  if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
}

export function getStatus(core: GetCore): CoreStatus {
  return tallyStatus(core.tally);
}

export function getOutcome(core: GetCore): GetOutcome {
  return { ...tallyOutcome(core.tally), found: core.found, notfound: core.notfound };
}

/** Whether the read cannot be met if `node` fails (see putNeeds). */
export function getNeeds(core: GetCore, node: number): boolean {
  return tallyNeeds(core.tally, node);
}

/** The deadline passed: every pending target counts as failed (timed out). Later replies are ignored. */
export function getTimeout(core: GetCore): GetOutcome {
  tallyTimeout(core.tally);
  return getOutcome(core);
}
