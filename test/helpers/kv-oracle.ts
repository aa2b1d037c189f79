// An independent oracle for a replicated key-value store with causal contexts. It knows nothing of leaderless: it
// judges only what a client could see (a history of operations) plus, after the test healed every fault, settled and
// repaired, a final read of every key and what each node's store holds for it. The rules (every written value is
// unique, so a value names its write):
//
//   coverage          a write covers the values returned by the operation whose context it passed (a read's values,
//                     or a put's result values), and transitively whatever those values' writes covered
//   lost-write        an acknowledged put's value is absent from the final read and no sent write covered it
//   resurrected       a value some acknowledged write covered is in the final read (a delete came undone, or a
//                     superseded value came back)
//   unknown-value     a value returned that was never written to this key
//   refused-value     a value returned whose write was refused (it must have left nothing behind)
//   duplicate-value   one value returned twice in one answer (one write, one value)
//   not-concurrent    two siblings in one answer where one's write covered the other
//   bad-put-result    a put's result does not list the value it wrote
//   not-converged     a primary holds other values than the final read returned, or primaries' contexts differ
//   stray-copy        a node that is not a replica of the key still holds it after heal + settle + repair
//   final-read-failed the final read did not succeed
//   unsettled         an operation never settled (still pending when the history was closed)
//   late              an operation settled later than its timeoutMs plus the slack
//   untyped-error     an operation failed with something other than a typed error (no string code)
//   stale-quorum-read in the calm phase (no faults, handoff done), a read of r replicas missed a put acknowledged
//                     by w primaries with r + w > N before the read began (and nothing covering it was sent)

export type OpKind = 'get' | 'put' | 'delete';
/** refused: failed in a way that promises nothing was written; failed: may or may not have been applied */
export type Outcome = 'ok' | 'failed' | 'refused' | 'pending';

export interface HistoryOp {
  id: number;
  client: string;
  key: string;
  kind: OpKind;
  /** the value a put wrote (unique over the history) */
  value?: string;
  /** id of the earlier ok operation whose result context this write passed; undefined: a blind write */
  contextFrom?: number;
  invokeMs: number;
  completeMs?: number;
  timeoutMs: number;
  outcome: Outcome;
  /** the error's code when it failed (undefined: the error carried none) */
  code?: string;
  /** a get's values, or the values a put/delete result's context covers */
  values?: string[];
  /** replicas a get needed (R) or a write's result counted (acked.length) */
  count?: number;
  /** a write acknowledged by primaries only */
  primaryOnly?: boolean;
}

export interface Held {
  values: string[];
  context: string;
}

export interface FinalKey {
  key: string;
  /** the final read's values; null when it failed */
  values: string[] | null;
  error?: string;
  /** what each replica of the key holds (undefined: nothing) */
  primaries: Array<{ node: number; held: Held | undefined }>;
  /** what every other node holds (anything is a stray copy) */
  others: Array<{ node: number; held: Held | undefined }>;
}

export interface OracleInput {
  ops: HistoryOp[];
  finals: FinalKey[];
  /** when the history was closed: operations still pending then never settled */
  endMs: number;
  /** how far past its timeoutMs an operation may settle */
  slackMs: number;
  /** N: replicas per key */
  replication: number;
  /** from this time on there are no faults and handoff is done, so overlapping quorums must see acked puts */
  calmFromMs?: number;
}

export type VerdictKind =
  | 'lost-write'
  | 'resurrected'
  | 'unknown-value'
  | 'refused-value'
  | 'duplicate-value'
  | 'not-concurrent'
  | 'bad-put-result'
  | 'not-converged'
  | 'stray-copy'
  | 'final-read-failed'
  | 'unsettled'
  | 'late'
  | 'untyped-error'
  | 'stale-quorum-read';

export interface Violation {
  kind: VerdictKind;
  key: string;
  detail: string;
}

interface Index {
  byId: Map<number, HistoryOp>;
  /** the put that wrote each value */
  writer: Map<string, HistoryOp>;
  covers: Map<HistoryOp, Set<string>>;
}

export function judge(input: OracleInput): Violation[] {
  const ix = index(input.ops);
  const out: Violation[] = [];
  checkSettled(input, out);
  for (const op of input.ops) {
    if (op.outcome !== 'ok' || op.values === undefined) continue;
    checkAnswer(op.key, op.values, ix, `${op.kind} #${op.id}`, out);
    if (op.kind === 'put' && !op.values.includes(op.value!)) {
      out.push({ kind: 'bad-put-result', key: op.key, detail: `put #${op.id} of ${op.value} returned ${show(op.values)}` });
    }
  }
  for (const f of input.finals) checkFinal(f, input.ops, ix, out);
  if (input.calmFromMs !== undefined) checkCalmReads(input, ix, out);
  return out;
}

/** Groups violations by kind: the kinds seen, in a stable order, with counts. */
export function kindsOf(vs: Violation[]): string[] {
  const n = new Map<string, number>();
  for (const v of vs) n.set(v.kind, (n.get(v.kind) ?? 0) + 1);
  return [...n].sort((a, b) => a[0].localeCompare(b[0])).map(([k, c]) => `${k} x${c}`);
}

function index(ops: HistoryOp[]): Index {
  const byId = new Map(ops.map((o) => [o.id, o]));
  const writer = new Map<string, HistoryOp>();
  for (const o of ops) if (o.kind === 'put' && o.value !== undefined) writer.set(o.value, o);
  const covers = new Map<HistoryOp, Set<string>>();
  const visit = (w: HistoryOp): Set<string> => {
    const known = covers.get(w);
    if (known !== undefined) return known;
    const out = new Set<string>();
    covers.set(w, out); // set before recursing: a malformed history with a cycle ends here
    const from = w.contextFrom === undefined ? undefined : byId.get(w.contextFrom);
    for (const v of from?.values ?? []) {
      out.add(v);
      const src = writer.get(v);
      if (src !== undefined && src.key === w.key) for (const x of visit(src)) out.add(x);
    }
    return out;
  };
  for (const o of ops) if (o.kind !== 'get') visit(o);
  return { byId, writer, covers };
}

function checkSettled(input: OracleInput, out: Violation[]): void {
  for (const op of input.ops) {
    const what = `${op.kind} #${op.id} by ${op.client} at ${op.invokeMs.toFixed(1)} ms (timeoutMs ${op.timeoutMs})`;
    if (op.outcome === 'pending') {
      out.push({ kind: 'unsettled', key: op.key, detail: `${what} still pending at ${input.endMs.toFixed(1)} ms` });
      continue;
    }
    const tookMs = (op.completeMs ?? op.invokeMs) - op.invokeMs;
    if (tookMs > op.timeoutMs + input.slackMs) {
      out.push({ kind: 'late', key: op.key, detail: `${what} settled (${op.outcome} ${op.code ?? ''}) after ${tookMs.toFixed(1)} ms` });
    }
    if (op.outcome !== 'ok' && op.code === undefined) {
      out.push({ kind: 'untyped-error', key: op.key, detail: `${what} failed without an error code` });
    }
  }
}

/** One answer (a read, a put result, the final read): known values, each once, pairwise concurrent. */
function checkAnswer(key: string, values: string[], ix: Index, what: string, out: Violation[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) out.push({ kind: 'duplicate-value', key, detail: `${what} returned ${v} twice: ${show(values)}` });
    seen.add(v);
    const w = ix.writer.get(v);
    if (w === undefined || w.key !== key) {
      out.push({ kind: 'unknown-value', key, detail: `${what} returned ${v}, never written to ${key}` });
    } else if (w.outcome === 'refused') {
      out.push({ kind: 'refused-value', key, detail: `${what} returned ${v}, whose put was refused (${w.code})` });
    }
  }
  for (const v of seen) {
    const w = ix.writer.get(v);
    if (w === undefined || w.key !== key) continue;
    for (const u of seen) {
      if (u !== v && ix.covers.get(w)!.has(u)) {
        out.push({ kind: 'not-concurrent', key, detail: `${what} returned ${u} beside ${v}, whose put covered it: ${show(values)}` });
      }
    }
  }
}

function checkFinal(f: FinalKey, ops: HistoryOp[], ix: Index, out: Violation[]): void {
  for (const o of f.others) {
    if (o.held !== undefined) {
      out.push({ kind: 'stray-copy', key: f.key, detail: `node ${o.node} (not a replica) holds ${show(o.held.values)}` });
    }
  }
  if (f.values === null) {
    out.push({ kind: 'final-read-failed', key: f.key, detail: f.error ?? 'the final read failed' });
    return;
  }
  checkAnswer(f.key, f.values, ix, 'the final read', out);
  checkConverged(f, out);
  const present = new Set(f.values);
  const writes = ops.filter((o) => o.key === f.key && o.kind !== 'get');
  const sent = writes.filter((o) => o.outcome !== 'refused');
  for (const w of writes) {
    if (w.outcome !== 'ok') continue;
    if (w.kind === 'put' && !present.has(w.value!) && !sent.some((x) => ix.covers.get(x)!.has(w.value!))) {
      out.push({ kind: 'lost-write', key: f.key, detail: `put #${w.id} of ${w.value} was acknowledged; final ${show(f.values)}` });
    }
    for (const v of ix.covers.get(w)!) {
      if (present.has(v)) {
        const what = w.kind === 'delete' ? `delete #${w.id}` : `put #${w.id} of ${w.value}`;
        out.push({ kind: 'resurrected', key: f.key, detail: `${v} is back though acknowledged ${what} covered it; final ${show(f.values)}` });
      }
    }
  }
}

function checkConverged(f: FinalKey, out: Violation[]): void {
  const want = show([...f.values!].sort());
  const contexts = new Set<string>();
  for (const p of f.primaries) {
    const got = show([...(p.held?.values ?? [])].sort());
    if (got !== want) out.push({ kind: 'not-converged', key: f.key, detail: `replica ${p.node} holds ${got}; the final read returned ${want}` });
    // a tombstone and nothing are the same to a client; contexts are compared where a live value is held
    if (p.held !== undefined && p.held.values.length > 0) contexts.add(p.held.context);
  }
  if (contexts.size > 1) out.push({ kind: 'not-converged', key: f.key, detail: `replicas hold different contexts: ${[...contexts].join(' | ')}` });
}

/** Calm phase: a read of r replicas must see a put that w primaries acknowledged before it began, when r + w > N. */
function checkCalmReads(input: OracleInput, ix: Index, out: Violation[]): void {
  const calm = input.calmFromMs!;
  const puts = input.ops.filter((o) => o.kind === 'put' && o.outcome === 'ok' && o.invokeMs >= calm && o.primaryOnly === true);
  for (const g of input.ops) {
    if (g.kind !== 'get' || g.outcome !== 'ok' || g.invokeMs < calm || g.count === undefined) continue;
    for (const w of puts) {
      if (w.key !== g.key || w.completeMs! > g.invokeMs || (w.count ?? 0) + g.count <= input.replication) continue;
      if (g.values!.includes(w.value!)) continue;
      const covered = input.ops.some((x) => x.key === g.key && x.outcome !== 'refused' && x.invokeMs < g.completeMs! && ix.covers.get(x)?.has(w.value!));
      if (!covered) {
        out.push({
          kind: 'stale-quorum-read',
          key: g.key,
          detail: `get #${g.id} (r=${g.count}) returned ${show(g.values!)} after put #${w.id} of ${w.value} was acked by ${w.count} primaries (N=${input.replication})`,
        });
      }
    }
  }
}

function show(values: string[]): string {
  return JSON.stringify(values);
}
