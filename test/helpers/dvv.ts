// Clock literals for the DVV tests, in dvvset's notation.
import { values, type Clock, type ReplicaId } from '../../actors/versioning/dvv.js';

/** A clock literal in dvvset's notation: C([['a', 4, [5, 2]]], [10]) is {[{a,4,[5,2]}],[10]}. */
export function C<V>(entries: Array<[ReplicaId, number, V[]]>, anonymous: V[] = []): Clock<V> {
  return { entries: entries.map(([id, n, vs]) => ({ id, n, values: vs })), anonymous };
}

/** Values as a sorted list of strings, to compare as sets. */
export const valueSet = <V>(c: Clock<V>, show: (v: V) => string = String): string[] => values(c).map(show).sort();
