// Dotted version vector sets (DVVSet), after dvvset.erl in the Dotted-Version-Vectors project.
//
// TYPES ARE FIXED (other modules and the binary codec depend on them); the functions are to be implemented below.
//
// Data layout:
//   Clock<V> = { entries: Entry<V>[], anonymous: V[] }
//   entries are sorted by replica id (ascending, plain JS string comparison), one per replica id.
//   Entry<V> = { id, n, values }: the replica `id` has generated events 1..n; `values` holds the values of the
//   newest events still live, newest first: values[0] is dot (id, n), values[1] is dot (id, n - 1), and so on.
//   anonymous: values with no dot (only a clock made by newClock/newWithContext before `update` has them).
// Ids name replicas only, never clients, so a clock has at most a few entries.

export type ReplicaId = string;

export interface Entry<V> {
  id: ReplicaId;
  n: number;
  values: V[];
}

export interface Clock<V> {
  entries: Entry<V>[];
  anonymous: V[];
}

/** The causal context of a clock (dvvset:join): every (id, n), sorted by id. */
export type VersionVector = Array<[ReplicaId, number]>;
