// Prometheus text exposition (format 0.0.4) of cluster.metrics(): what an operator scrapes.
//
// Data layout of the output: one family per figure, `# HELP` and `# TYPE` lines first, then one sample per node
// (label node="i", plus status for leaderless_node_up) or one cluster-wide sample. Families come from walking the
// metrics object: per node, every numeric field of `counters` is a counter (`leaderless_replica_<name>_total`), and
// every other numeric field, nested ones included, is a gauge (`leaderless_replica_<path>`); `client` counters and
// `totals` are cluster-wide. Walking rather than listing means a field the runtime adds later (hint queues, repair
// age, latency quantiles) is exported without touching this file; the HELP table below only describes the known ones.
//
// Use: res.end(metricsText(await cluster.metrics()))   (content type: text/plain; version=0.0.4)
import type { ClusterMetrics } from './api.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const HELP: Record<string, string> = {
  leaderless_node_up: 'whether the supervisor sees the node up (1), suspect or down (0)',
  leaderless_replica_mailbox_depth: 'messages waiting in the replica mailbox',
  leaderless_replica_puts_total: 'writes this replica coordinated',
  leaderless_replica_puts_ok_total: 'coordinated writes that met W',
  leaderless_replica_puts_failed_total: 'coordinated writes that could not meet W',
  leaderless_replica_puts_timed_out_total: 'coordinated writes that timed out',
  leaderless_replica_replicates_total: 'replica writes applied on behalf of a coordinator',
  leaderless_replica_gets_total: 'reads served',
  leaderless_replica_repairs_total: 'read repairs applied (high means replicas diverge)',
  leaderless_replica_hinted_writes_total: 'writes taken as a fallback, with a hint for the owner',
  leaderless_replica_store_errors_total: 'store writes refused (full store)',
  leaderless_replica_pending_puts: 'writes this replica is coordinating now',
  leaderless_replica_store_keys: 'keys in the replica store',
  leaderless_replica_store_live_bytes: 'bytes of live records in the store arena',
  leaderless_replica_store_arena_bytes: 'size of the store arena',
  leaderless_client_failures_total: 'client operations that failed (quorum, timeout)',
  leaderless_client_timeouts_total: 'client operations that timed out',
  leaderless_client_read_repairs_total: 'read repairs the client started',
  leaderless_client_siblings_returned_total: 'reads that returned siblings (version conflicts)',
  leaderless_quorum_success_ratio: 'coordinated writes that met W, over writes finished (1 when none)',
};

function snake(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase();
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

type Family = { type: 'counter' | 'gauge'; samples: string[] };

class Exposition {
  private readonly families = new Map<string, Family>();

  add(name: string, type: Family['type'], labels: Record<string, string>, value: number): void {
    let f = this.families.get(name);
    if (f === undefined) this.families.set(name, (f = { type, samples: [] }));
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    f.samples.push(`${name}${l.length > 0 ? `{${l.join(',')}}` : ''} ${formatValue(value)}`);
  }

  /** Every numeric leaf of `o` under `prefix`; `counter` decides the type of each from its path. */
  walk(prefix: string, o: unknown, labels: Record<string, string>, counter: (path: string[]) => boolean, path: string[] = []): void {
    if (typeof o === 'number') {
      const c = counter(path);
      this.add(`${prefix}_${path.map(snake).join('_')}${c ? '_total' : ''}`, c ? 'counter' : 'gauge', labels, o);
    } else if (typeof o === 'boolean') this.add(`${prefix}_${path.map(snake).join('_')}`, 'gauge', labels, o ? 1 : 0);
    else if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
      for (const [k, v] of Object.entries(o)) this.walk(prefix, v, labels, counter, [...path, k]);
    }
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${HELP[name] ?? name.replace(/_/g, ' ')}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    }
    return out.join('\n') + '\n';
  }
}

const NODE_SKIP = new Set(['node', 'replicaId', 'status', 'mailboxDepth']);

export function metricsText(metrics: ClusterMetrics): string {
  const x = new Exposition();
  for (const n of metrics.nodes) {
    x.add('leaderless_node_up', 'gauge', { node: String(n.node), status: n.status }, n.status === 'up' ? 1 : 0);
  }
  for (const n of metrics.nodes) x.add('leaderless_replica_mailbox_depth', 'gauge', { node: String(n.node) }, n.mailboxDepth);
  for (const n of metrics.nodes) {
    const labels = { node: String(n.node) };
    const rest = Object.fromEntries(Object.entries(n).filter(([k]) => !NODE_SKIP.has(k) && k !== 'counters'));
    x.walk('leaderless_replica', n.counters, labels, () => true);
    // the message tallies are monotonic too; everything else (store sizes, queue lengths) is a gauge
    x.walk('leaderless_replica', rest, labels, (p) => /^(messages|batches)(In|Out)$/.test(p[0]));
  }
  x.walk('leaderless_client', metrics.client, {}, () => true);
  const finished = metrics.totals.putsOk + metrics.totals.putsFailed;
  x.add('leaderless_quorum_success_ratio', 'gauge', {}, finished === 0 ? 1 : metrics.totals.putsOk / finished);
  return x.text();
}
