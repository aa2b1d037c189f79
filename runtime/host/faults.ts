// The fault vocabulary's argument checks, once for both runtimes (runtime/api.ts says what each fault means): a bad
// argument is refused the same way in threads and in the simulator, before anything is injected.

import { InvalidArgumentError, show } from '../../actors/errors.js';
import type { KillOptions, LinkSpec } from '../api.js';

const KILL_KEYS = new Set(['wipe', 'stayDown']);
const LINK_KEYS = new Set(['from', 'to']);
/** Longest injected delay, ms. */
export const MAX_FAULT_DELAY_MS = 60_000;

function checkKeys(o: unknown, allowed: Set<string>, call: string): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new InvalidArgumentError(`${call} options must be an object; got ${show(o)}`);
  }
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw new InvalidArgumentError(`unknown ${call} option ${k}; allowed: ${[...allowed].join(', ')}`);
  }
}

/** kill's (and crash's) options, with their defaults. */
export function checkKillOptions(o: unknown, call = 'kill'): Required<KillOptions> {
  checkKeys(o, call === 'crash' ? new Set(['wipe']) : KILL_KEYS, call);
  const { wipe = false, stayDown = false } = o as KillOptions;
  if (typeof wipe !== 'boolean') throw new InvalidArgumentError(`wipe must be true or false; got ${show(wipe)}`);
  if (typeof stayDown !== 'boolean') throw new InvalidArgumentError(`stayDown must be true or false; got ${show(stayDown)}`);
  return { wipe, stayDown };
}

/** partition's groups: arrays of distinct nodes. */
export function checkGroups(groups: unknown, checkNode: (node: unknown) => void): number[][] {
  const usage = 'partition takes an array of node arrays, e.g. [[0, 1], [2, 3, 4]]';
  if (!Array.isArray(groups)) throw new InvalidArgumentError(`${usage}; got ${show(groups)}`);
  const seen = new Set<number>();
  for (const g of groups) {
    if (!Array.isArray(g)) throw new InvalidArgumentError(`${usage}; got a group ${show(g)}`);
    for (const node of g) {
      checkNode(node);
      if (seen.has(node)) throw new InvalidArgumentError(`node ${node} is in two partition groups`);
      seen.add(node);
    }
  }
  return groups as number[][];
}

/**
 * The directed links a delay or drop names, as (row, to) pairs: rows are sending replicas 0..n-1 and n for clients
 * placed near no node; '*' or left out is every one (for `from`, unplaced clients included).
 */
export function linksOf(
  spec: unknown,
  extra: Set<string>,
  call: string,
  n: number,
  checkNode: (node: unknown) => void,
  /** the row of clients placed near no node in the runtime's link table (default n) */
  clientRow = n,
): Array<[number, number]> {
  checkKeys(spec, new Set([...LINK_KEYS, ...extra]), call);
  const { from = '*', to = '*' } = spec as LinkSpec;
  const pick = (x: unknown): number[] => {
    if (x === '*') return Array.from({ length: n }, (_, i) => i);
    checkNode(x);
    return [x as number];
  };
  const froms = from === '*' ? [...pick('*'), clientRow] : pick(from);
  const tos = pick(to);
  const links: Array<[number, number]> = [];
  for (const f of froms) for (const t of tos) links.push([f, t]);
  return links;
}

export function checkDelayMs(ms: unknown): number {
  if (typeof ms !== 'number' || !(ms >= 0) || ms > MAX_FAULT_DELAY_MS) {
    throw new InvalidArgumentError(`delay ms must be a number from 0 to ${MAX_FAULT_DELAY_MS}; got ${show(ms)}`);
  }
  return ms;
}

export function checkDropProbability(p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new InvalidArgumentError(`drop probability must be a number from 0 to 1; got ${show(p)}`);
  return p;
}
