// How hints are laid out in the HintStore: the key names the owner and the key id; the record is the hint's clock
// plus one extra entry holding when it was first queued, so that a restart keeps the hint's age. One more record,
// under FLOOR_KEY, holds the dot floor (see dot-floor.ts).

import type { StoredClock } from '../protocol.js';

/** A hint's key in the HintStore: the owner in two bytes, then the key id (key ids are one char per byte). */
export function hintKey(owner: number, keyId: string): string {
  return String.fromCharCode((owner >> 8) & 0xff, owner & 0xff) + keyId;
}

/** The hint store's record of dotFloor: owner 0xffff, which no node has (at most MAX_NODES), and an empty key. */
export const FLOOR_KEY = hintKey(0xffff, '');

export function parseHintKey(k: string): { owner: number; keyId: string } {
  return { owner: (k.charCodeAt(0) << 8) | k.charCodeAt(1), keyId: k.slice(2) };
}

/**
 * A persisted hint carries the time it was first queued as one extra clock entry under this id (no replica id has
 * an '@'), its counter the time in whole ms, so that a restart keeps the hint's age. The runtimes give actors times
 * that mean the same in every worker and across restarts (wall-clock ms in threads, virtual ms in the simulator).
 */
const QUEUED_AT_ID = '@queuedAt';

export function withQueuedAt(clock: StoredClock, queuedAtMs: number): StoredClock {
  return { entries: [...clock.entries, { id: QUEUED_AT_ID, n: Math.max(0, Math.floor(queuedAtMs)), values: [] }], anonymous: clock.anonymous };
}

/** The persisted hint's clock and queued-at time; a record without the entry (older format) counts as queued now. */
export function splitQueuedAt(record: StoredClock, nowMs: number): { clock: StoredClock; queuedAtMs: number } {
  const at = record.entries.find((e) => e.id === QUEUED_AT_ID);
  if (at === undefined) return { clock: record, queuedAtMs: nowMs };
  // a clock that moved backwards across the restart must not make a hint younger than zero
  return { clock: { entries: record.entries.filter((e) => e !== at), anonymous: record.anonymous }, queuedAtMs: Math.min(at.n, nowMs) };
}
