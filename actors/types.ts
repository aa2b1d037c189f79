// Values as the protocol stores them.
//
// A stored version is a Stamped: the application's value (a string or bytes, or null for a tombstone) plus the
// wall-clock timestamp the coordinating replica gave the write (milliseconds, injected, never read here) and the
// id of that replica. In 'siblings' mode the timestamp is informational; in 'lww' mode (timestamp, replica) orders
// versions and only the greatest survives.

export type Value = string | Uint8Array;

export interface Stamped {
  /** the value, or null for a tombstone (a delete) */
  v: Value | null;
  /** coordinator's clock at the write, ms */
  ts: number;
  /** coordinating replica id: a tie-breaker for equal timestamps in lww mode */
  by: string;
}

export type ConflictMode = 'siblings' | 'lww';
