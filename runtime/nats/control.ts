// The control plane over NATS: JSON request/reply on ctl.<node> (admin calls only: stats, one anti-entropy round,
// what a replica holds for a key). Errors come back as { ok: false, message }.

import type { Key } from '../../actors/hash.js';
import type { Inspection } from '../../actors/coordinator/results.js';
import type { ReplicaStats } from '../api.js';
import type { RepairRoundResult } from '../host/hash-pool.js';

export type ControlRequest = { op: 'stats' } | { op: 'repair' } | { op: 'inspect'; key: Key };

export type ControlReply =
  | { ok: true; stats: ReplicaStats; decodeErrors: number }
  | { ok: true; round: RepairRoundResult }
  | { ok: true; inspection: Inspection | null }
  | { ok: false; message: string };

export function controlError(e: unknown): ControlReply {
  return { ok: false, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}
