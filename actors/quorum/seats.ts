// Seats: a primary's seat counts once. Whichever of a primary and its stand-ins (targets whose hintFor names it)
// first gives a reply that counts fills the seat; the others of that seat then no longer count.

import { PENDING, type Tally, type Target } from './tally.js';

/**
 * Per target, the primary whose seat it fills: its own node, or a stand-in's hintFor; -1 for a fallback that names
 * no primary (it counts alone).
 */
export function seatsOf(targets: readonly Target[]): number[] {
  return targets.map((t) => (t.primary ? t.node : (t.hintFor ?? -1)));
}

/** Target i's reply counted: the others of its seat (the primary, or its other stand-ins) no longer count. */
export function fillSeat(t: Tally, seat: readonly number[], i: number): void {
  if (seat[i] < 0) return;
  for (let j = 0; j < t.nodes.length; j++) if (j !== i && seat[j] === seat[i]) uncount(t, j);
}


/** A pending target whose reply will not count (it is recorded as uncounted when it comes). */
export function uncount(t: Tally, i: number): void {
  if (t.state[i] !== PENDING || t.timedOut || !t.countable[i]) return;
  t.countable[i] = false;
  t.open--;
  if (t.dcSlot[i] >= 0) t.dcOpen[t.dcSlot[i]]--;
}
