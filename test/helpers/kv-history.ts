// Records a client-visible history for the oracle (test/helpers/kv-oracle.ts): each call's key, kind, value, the
// operation whose context it passed, invoke and complete times on the clock it is given (virtual ms in the
// simulator, real ms on threads), its outcome and what it returned. Works with any client of either runtime.
import { LeaderlessError } from '../../runtime/index.js';
import type { HistoryOp, Outcome } from './kv-oracle.js';

type Value = string | Uint8Array;
interface Answer {
  values: Value[];
  context: string;
}
interface WriteAnswer extends Answer {
  acked: number[];
  primaryOnly: boolean;
}
export interface KvClient {
  get(key: string, options?: object): Promise<Answer>;
  put(key: string, value: Value, options?: object): Promise<WriteAnswer>;
  delete(key: string, options?: object): Promise<WriteAnswer>;
}

/** Codes that promise nothing was written (QUORUM_UNREACHABLE only when its message says so). */
const REFUSALS = new Set(['INVALID_ARGUMENT', 'KEY_TOO_LARGE', 'VALUE_TOO_LARGE', 'OVERLOADED']);

export function outcomeOf(e: unknown): { outcome: Outcome; code?: string } {
  if (!(e instanceof LeaderlessError) || typeof e.code !== 'string') return { outcome: 'failed' };
  const refused = REFUSALS.has(e.code) || (e.code === 'QUORUM_UNREACHABLE' && /nothing was written/.test(e.message));
  return { outcome: refused ? 'refused' : 'failed', code: e.code };
}

export class History {
  readonly ops: HistoryOp[] = [];
  private readonly contexts = new Map<number, string>();

  constructor(
    private readonly now: () => number,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** A read needing `count` replicas (R as a number, for the calm-phase check). */
  async get(c: KvClient, client: string, key: string, options: { timeoutMs?: number; [k: string]: unknown }, count: number): Promise<HistoryOp> {
    const op = this.begin(client, key, 'get', options);
    op.count = count;
    await this.settle(op, c.get(key, options));
    return op;
  }

  /** A put (value) or delete (null); `from` is the ok operation whose context it passes (undefined: blind). */
  async write(c: KvClient, client: string, key: string, value: string | null, from: HistoryOp | undefined, options: { timeoutMs?: number; [k: string]: unknown }): Promise<HistoryOp> {
    const op = this.begin(client, key, value === null ? 'delete' : 'put', options);
    if (value !== null) op.value = value;
    const context = from === undefined ? undefined : this.contexts.get(from.id);
    if (context !== undefined) op.contextFrom = from!.id;
    const opts = context === undefined ? options : { ...options, context };
    await this.settle(op, value === null ? c.delete(key, opts) : c.put(key, value, opts));
    return op;
  }

  /** Operations still pending (for a test deciding how long to wait before it closes the history). */
  pending(): number {
    return this.ops.filter((o) => o.outcome === 'pending').length;
  }

  private begin(client: string, key: string, kind: HistoryOp['kind'], options: { timeoutMs?: number }): HistoryOp {
    const op: HistoryOp = {
      id: this.ops.length, client, key, kind, invokeMs: this.now(), timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs, outcome: 'pending',
    };
    this.ops.push(op);
    return op;
  }

  private async settle(op: HistoryOp, p: Promise<Answer | WriteAnswer>): Promise<void> {
    try {
      const r = await p;
      op.completeMs = this.now();
      op.outcome = 'ok';
      op.values = r.values.map(String);
      this.contexts.set(op.id, r.context);
      if ('acked' in r) {
        op.count = r.acked.length;
        op.primaryOnly = r.primaryOnly;
      }
    } catch (e) {
      op.completeMs = this.now();
      Object.assign(op, outcomeOf(e));
    }
  }
}
