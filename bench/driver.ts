// Performs the workload's operations against one cluster and records them: latency and outcome for the report, and
// the history (what was written with which context, what each read returned) for the oracle.
//
// Data layout: a context cache (key -> the newest context the harness holds and the value ids it covers), filled by
// reads and, with --update-context last, by puts. Value ids are unique per run: `w<n>` for the workload's writes,
// `L<n>` for the loading writes.
import { LeaderlessError, type PutOptions } from '../runtime/index.js';
import type { Outcome } from './oracle.js';
import type { Recorder } from './recorder.js';
import type { BenchCluster, BenchSpec } from './spec.js';
import { keyName, makeValue, valueId, type OpKind, type Workload } from './workloads.js';

interface CachedContext {
  src: { readonly context: string };
  covers: string[];
}

export interface OpResult {
  outcome: Outcome;
  code?: string;
}

/** A LeaderlessError's outcome: refused when nothing was sent, failed (may have been applied) otherwise. */
export function outcomeOf(e: unknown): { outcome: Outcome; code: string } {
  if (!(e instanceof LeaderlessError)) throw e; // a bug, not a measurement
  const refused =
    e.code === 'OVERLOADED' || (e.code === 'QUORUM_UNREACHABLE' && /nothing was written|no replica of the key is up/.test(e.message));
  return { outcome: refused ? 'refused' : 'failed', code: e.code };
}

export class Driver {
  private readonly contexts = new Map<string, CachedContext>();
  private nextId = 0;

  constructor(
    private readonly cluster: BenchCluster,
    private readonly spec: BenchSpec,
    private readonly workload: Workload,
    private readonly rec: Recorder,
    private readonly now: () => number,
  ) {}

  async perform(kind: OpKind, index: number): Promise<void> {
    const key = keyName(index);
    const t0 = this.now();
    let r: OpResult;
    if (kind === 'read') r = await this.read(key);
    else if (kind === 'rmw') {
      const got = await this.read(key);
      // the context of this very read, not whatever another loop cached for the key since
      r = got.ctx === undefined ? got : await this.write(key, got.ctx);
    } else r = await this.write(key, kind === 'insert' ? undefined : this.updateContext(key));
    if (kind === 'insert' && r.outcome === 'ok') this.workload.inserted(index);
    this.rec.done(kind, t0, this.now(), r.outcome, r.code);
  }

  private updateContext(key: string): CachedContext | undefined {
    return this.spec.updateContext === 'none' ? undefined : this.contexts.get(key);
  }

  async read(key: string): Promise<OpResult & { ctx?: CachedContext }> {
    const startMs = this.now();
    try {
      const got = await this.cluster.get(key);
      const values = got.values.map(valueId);
      this.rec.record({ kind: 'read', key, startMs, endMs: this.now(), outcome: 'ok', values });
      const ctx = { src: got, covers: values };
      this.contexts.set(key, ctx);
      return { outcome: 'ok', ctx };
    } catch (e) {
      const o = outcomeOf(e);
      this.rec.record({ kind: 'read', key, startMs, endMs: this.now(), outcome: o.outcome, values: [] });
      return o;
    }
  }

  async write(key: string, ctx: CachedContext | undefined, options: PutOptions = {}): Promise<OpResult> {
    const id = `w${(this.nextId++).toString(36)}`;
    return this.writeValue(key, id, ctx, options);
  }

  async writeValue(key: string, id: string, ctx: CachedContext | undefined, options: PutOptions): Promise<OpResult> {
    const startMs = this.now();
    const covers = ctx?.covers ?? [];
    try {
      const context = ctx?.src.context;
      const put = await this.cluster.put(key, makeValue(id, this.spec.workload.valueSizeBytes), context ? { ...options, context } : options);
      this.rec.record({ kind: 'write', key, startMs, endMs: this.now(), outcome: 'ok', value: id, covers });
      // A put's context covers what its result lists: the value written plus any siblings the coordinator held.
      if (this.spec.updateContext === 'last') this.contexts.set(key, { src: put, covers: put.values.map(valueId) });
      return { outcome: 'ok' };
    } catch (e) {
      const o = outcomeOf(e);
      this.rec.record({ kind: 'write', key, startMs, endMs: this.now(), outcome: o.outcome, value: id, covers });
      return o;
    }
  }
}
