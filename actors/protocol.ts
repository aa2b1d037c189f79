// Every message the protocol exchanges, in one discriminated union (the `type` field).
//
// Addresses are numbers: replicas are 0..nodes-1; clients (coordinators of reads, senders of writes) are
// CLIENT_BASE + client index. Keys travel as key ids (actors/hash.ts). Clocks are DVV sets of Stamped values
// (actors/versioning/dvv.ts). Everything here is plain data that survives structured clone, so the thread runtime
// can post it and the simulator can pass it by reference.
//
// Write path (Riak style: clocks name replicas, so a write is coordinated by a replica):
//   client --put--> coordinating replica (first target) --replicate--> other targets --replicate-ack--> coordinator
//   coordinator --put-reply--> client, once W acks are in (or W has become impossible, or time ran out)
// Read path (coordinated by the client):
//   client --get--> R targets (more if some fail) --get-reply--> client; reconcile with DVV sync;
//   client --repair--> each replica that answered with less than the merged clock (--repair-ack when blocking)

import type { WireError } from './errors.js';
import type { Requirement } from './quorum/index.js';
import type { Placement } from './ring.js';
import type { Stamped, Value } from './types.js';
import type { Clock, VersionVector } from './versioning/dvv.js';

export type Address = number;
export const CLIENT_BASE = 1 << 16;
export const isClient = (a: Address): boolean => a >= CLIENT_BASE;

export type StoredClock = Clock<Stamped>;

/** client -> coordinating replica: write `value` (null deletes) under `context`, replicate to `targets`. */
export interface PutRequest {
  type: 'put';
  req: number;
  from: Address;
  key: string;
  value: Value | null;
  /** the context of an earlier read (what this write supersedes), or null for a blind write */
  context: VersionVector | null;
  /** the sender's ring epoch (actors/membership/epoch.ts); absent: the first epoch */
  epoch?: number;
  /** the placement: the coordinator is targets[0] */
  targets: Placement[];
  /**
   * sloppy quorum: for each primary, the healthy node that stands in for it (hintFor set) should the primary not
   * answer within hintAfterMs; empty when sloppy is off
   */
  spares: Placement[];
  need: Requirement;
  sloppy: boolean;
  /** the caller's timeoutMs, for messages */
  timeoutMs: number;
  /**
   * How long the coordinator may take, from receipt: what is left of the caller's timeoutMs when the client sent
   * this, less the reply's way back (absent: timeoutMs). A failover's coordinator gets only the rest of the budget.
   */
  budgetMs?: number;
  hintAfterMs: number;
}

/** coordinating replica -> client */
export interface PutReply {
  type: 'put-reply';
  req: number;
  from: Address;
  ok: boolean;
  error?: WireError;
  /** replicas whose ack counted */
  acked: number[];
  /** true when every counted ack came from a primary */
  primaryOnly: boolean;
  /** the causal context of the version the coordinator wrote (empty when the write failed before it) */
  context: VersionVector;
  /**
   * Present only when the coordinator holds concurrent siblings beside the value written: every value (null for a
   * tombstone) that `context` covers. A context can only say "all of replica r's events up to n", so it may cover a
   * sibling the writer never saw; the writer must be told which (Riak's return_body, for the same reason).
   */
  siblings?: Array<Value | null>;
}

/** coordinator -> replica: merge `clock` into your copy of `key` (hintFor: you hold it for a down primary). */
export interface Replicate {
  type: 'replicate';
  req: number;
  from: Address;
  key: string;
  clock: StoredClock;
  hintFor?: number;
  /** the sender's ring epoch (actors/membership/epoch.ts); absent: the first epoch */
  epoch?: number;
}

export interface ReplicateAck {
  type: 'replicate-ack';
  req: number;
  from: Address;
  ok: boolean;
  error?: WireError;
}

/** client -> replica: what do you hold for `key`? */
export interface GetRequest {
  type: 'get';
  req: number;
  from: Address;
  key: string;
  /** the sender's ring epoch (actors/membership/epoch.ts); absent: the first epoch */
  epoch?: number;
}

export interface GetReply {
  type: 'get-reply';
  req: number;
  from: Address;
  key: string;
  /** null: the replica holds nothing for the key */
  clock: StoredClock | null;
  error?: WireError;
}

/** client -> replica: read repair; merge `clock` (ack only when req >= 0, i.e. blocking repair). */
export interface RepairRequest {
  type: 'repair';
  req: number;
  from: Address;
  key: string;
  /** the sender's ring epoch (actors/membership/epoch.ts); absent: the first epoch */
  epoch?: number;
  clock: StoredClock;
}

export interface RepairAck {
  type: 'repair-ack';
  req: number;
  from: Address;
  ok: boolean;
}

/** fallback -> owner: hinted writes held for you while you were down; merge them and ack. */
export interface Handoff {
  type: 'handoff';
  req: number;
  from: Address;
  entries: Array<{ key: string; clock: StoredClock }>;
}

export interface HandoffAck {
  type: 'handoff-ack';
  req: number;
  from: Address;
  ok: boolean;
}

/**
 * the runtime -> an actor: time has passed (virtual or real); expire what is due. `down` lists the nodes the
 * failure detector holds down right now (replicas use it to start and stop hinted handoff).
 */
export interface Tick {
  type: 'tick';
  nowMs: number;
  down?: readonly number[];
}

export type Message =
  | PutRequest
  | PutReply
  | Replicate
  | ReplicateAck
  | GetRequest
  | GetReply
  | RepairRequest
  | RepairAck
  | Handoff
  | HandoffAck
  | Tick
  | AeMessage;

export type MessageType = Message['type'];

/** What an actor asks its runtime to do: only sends; timers are ticks the runtime delivers. */
export interface Send {
  to: Address;
  msg: Message;
}

// ---------------------------------------------------------------------------------------------------------------
// Anti-entropy (actors/anti-entropy/). An initiator drives one exchange per (range, peer); the peer answers each
// request from its current state and keeps no per-exchange state. `req` is the initiator's exchange id; `range` is
// the sorted node list of a replica set, e.g. "0,2,3". Hashes travel as uint32 pairs [hi, lo], never bigints.
//   ae-tree  -> ae-tree-reply   node hashes at one depth (depth 0 first: the peer rehashes its dirty segments)
//   ae-keys  -> ae-keys-reply   (keyId, digest) lists of differing segments, sorted by key, paged after `after`
//   ae-sync  -> ae-sync-reply   clocks the peer lacks or holds differently; clocks of the keys in `want` back
//   ae-tombs -> ae-tombs-reply  tombstones the peer holds identically (reaping confirmations); ends the exchange
//   ae-hints -> ae-hints-reply  asked of every other node before a reap, outside exchanges: which of these keys do
//                               you hold a hint for? (a held hint, or no answer, keeps the tombstone)
//   ae-abort                    the peer cannot serve the request (busy rebuilding, not a replica of the range)

/** initiator -> peer: your node hashes at `depth` for `indices` (at most maxNodesPerMessage). */
export interface AeTreeRequest {
  type: 'ae-tree';
  req: number;
  from: Address;
  range: string;
  depth: number;
  indices: number[];
}

export interface AeTreeReply {
  type: 'ae-tree-reply';
  req: number;
  from: Address;
  depth: number;
  /** two uint32 words [hi, lo] per requested index, in request order */
  hashes: number[];
}

/** initiator -> peer: list your keys of `segments` (ascending key order); in the first segment only keys > after. */
export interface AeKeysRequest {
  type: 'ae-keys';
  req: number;
  from: Address;
  range: string;
  segments: number[];
  after: string | null;
}

export interface AeKeysReply {
  type: 'ae-keys-reply';
  req: number;
  from: Address;
  /** the requested segments covered, a prefix of the request; counts[i] of the keys belong to segments[i] */
  segments: number[];
  counts: number[];
  keys: string[];
  digests: number[];
  /** the last covered segment was cut short: ask again with after = its last key */
  more: boolean;
}

/** initiator -> peer: merge these clocks (DVV sync), then send me your clocks of `want`. */
export interface AeSync {
  type: 'ae-sync';
  req: number;
  from: Address;
  range: string;
  entries: Array<{ key: string; clock: StoredClock }>;
  want: string[];
}

export interface AeSyncReply {
  type: 'ae-sync-reply';
  req: number;
  from: Address;
  entries: Array<{ key: string; clock: StoredClock }>;
}

/** initiator -> peer: I hold these tombstones (tombstone-only clocks with these digests); which do you hold too? */
export interface AeTombs {
  type: 'ae-tombs';
  req: number;
  from: Address;
  range: string;
  keys: string[];
  digests: number[];
}

export interface AeTombsReply {
  type: 'ae-tombs-reply';
  req: number;
  from: Address;
  /** the subset of the request's keys the peer holds as the same tombstone */
  keys: string[];
}

/** reaper -> every other node: which of these keys (at most maxKeysPerMessage) do you hold a hint for? */
export interface AeHints {
  type: 'ae-hints';
  req: number;
  from: Address;
  keys: string[];
}

export interface AeHintsReply {
  type: 'ae-hints-reply';
  req: number;
  from: Address;
  /** the subset of the request's keys this node holds a hint for, for any owner */
  keys: string[];
}

/** peer -> initiator: the request cannot be served; the exchange fails and is retried in a later round. */
export interface AeAbort {
  type: 'ae-abort';
  req: number;
  from: Address;
  reason: string;
}

export type AeMessage =
  | AeTreeRequest
  | AeTreeReply
  | AeKeysRequest
  | AeKeysReply
  | AeSync
  | AeSyncReply
  | AeTombs
  | AeTombsReply
  | AeHints
  | AeHintsReply
  | AeAbort;
