// The cluster's metrics as Prometheus families, on prom-client: registerClusterMetrics(registry, source) adds them to
// any prom-client Registry (an application's own, beside its other metrics), and every scrape reads fresh values
// through collect callbacks that share one source() call per scrape.
//
//   import { Registry } from 'prom-client';
//   const registry = new Registry();
//   registerClusterMetrics(registry, () => cluster.metrics());
//   app.get('/metrics', async (_, res) => res.type(registry.contentType).send(await registry.metrics()));
//
// Naming follows the Prometheus conventions: cumulative counts are counters named `_total`; levels (queue lengths,
// store sizes, whether a node is up) are gauges; sizes are in `_bytes` and times in `_seconds`; client latency is a
// histogram (`leaderless_client_operation_duration_seconds{op="read"|"write"}`) whose buckets come from the client's
// HDR histograms (runtime/metrics/latency.ts). A node's state is never a label value: `leaderless_node_up` is 0 or 1 and
// `leaderless_node_state{state}` has one series per possible state, 1 for the current one (a state-set).
//
// Ratios and rates the design note's monitoring table lists are left to PromQL, where they are right over any window:
//   quorum success     sum(rate(leaderless_replica_coordinated_writes_ok_total[5m]))
//                      / (sum(rate(leaderless_replica_coordinated_writes_ok_total[5m])) + sum(rate(..._failed_total[5m])))
//   read repair rate   sum(rate(leaderless_replica_read_repairs_total[5m]))
//   read latency p99   histogram_quantile(0.99, rate(leaderless_client_operation_duration_seconds_bucket{op="read"}[5m]))
//   repair age         time() - leaderless_ae_last_repair_timestamp_seconds
//
// Every field is optional in the input (ScrapeInput): the simulator's metrics() has no anti-entropy, batch or
// latency figures, and a family with nothing to report is exposed with its HELP and TYPE and no samples.
import { Counter, Gauge, Registry } from 'prom-client';
import { InvalidArgumentError } from '../../actors/errors.js';
import type { LatencyBuckets } from './latency.js';
import { NODE_FAMILIES, NODE_STATES, CLIENT_FAMILIES, type NodeInput } from './families.js';

export type { NodeInput } from './families.js';

/** What the exposition reads of cluster.metrics() (thread Cluster) or SimCluster.metrics(): both fit. */
export interface ScrapeInput {
  nodes: NodeInput[];
  /** counters of this process's client; readLatency / writeLatency with `buckets` (LatencySummary) where it has them */
  client?: object;
  watch?: { uptimeMs?: number };
}

/** Where a scrape gets its figures: usually () => cluster.metrics(). */
export type MetricsSource = () => Promise<ScrapeInput> | ScrapeInput;

export const LATENCY_FAMILY = 'leaderless_client_operation_duration_seconds';

/** Calls source() once for all the families a scrape collects (they all start in the same tick), then forgets it. */
function perScrape(source: MetricsSource): () => Promise<ScrapeInput> {
  let pending: Promise<ScrapeInput> | undefined;
  return () =>
    (pending ??= Promise.resolve()
      .then(source)
      .finally(() => {
        pending = undefined;
      }));
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** prom-client's custom-metric shape: what Registry.registerMetric reads from a metric on a scrape. */
interface CustomMetric {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: HistogramValue[] }>;
  reset(): void;
}

interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram whose buckets are read at scrape time from precomputed cumulative counts (HDR-derived),
 * not observed one by one: prom-client's Histogram can only observe, so this is a custom metric in its format.
 */
function latencyHistogram(scrape: () => Promise<ScrapeInput>): CustomMetric {
  const name = LATENCY_FAMILY;
  const help =
    'Time from a client operation being issued until it completed (ok or failed), as this process\'s client saw it; ' +
    'consistency-ONE reads served from local shared memory are not included.';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    async get() {
      const m = await scrape();
      const values: HistogramValue[] = [];
      for (const op of ['read', 'write'] as const) {
        const b = bucketsOf(m.client, `${op}Latency`);
        if (b === undefined) continue;
        b.boundsUs.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { op, le: le / 1e6 }, value: b.counts[i] }));
        values.push({ metricName: `${name}_bucket`, labels: { op, le: '+Inf' }, value: b.count });
        values.push({ metricName: `${name}_sum`, labels: { op }, value: b.sumUs / 1e6 });
        values.push({ metricName: `${name}_count`, labels: { op }, value: b.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/** client.readLatency.buckets (or writeLatency), when the runtime reports them. */
function bucketsOf(client: object | undefined, key: string): LatencyBuckets | undefined {
  const summary = (client as Record<string, { buckets?: LatencyBuckets } | undefined> | undefined)?.[key];
  const b = summary?.buckets;
  return b !== undefined && Array.isArray(b.counts) && Array.isArray(b.boundsUs) ? b : undefined;
}

/** The handle registerClusterMetrics returns: unregister() takes every family it added out of the registry again. */
export interface ClusterMetricsRegistration {
  names: string[];
  unregister(): void;
}

/**
 * Adds the cluster's families to `registry`. Each scrape of the registry calls source() once and reads every family
 * from that one snapshot; a source that throws (a stopped cluster) makes registry.metrics() reject with its error.
 * Names are fixed (leaderless_*): register one cluster per registry, or give each its own registry.
 */
export function registerClusterMetrics(registry: Registry, source: MetricsSource): ClusterMetricsRegistration {
  // duck-typed, not instanceof: the application's prom-client may be another copy than this package's
  if (typeof (registry as Partial<Registry> | null)?.registerMetric !== 'function') {
    throw new InvalidArgumentError(`registerClusterMetrics needs a prom-client Registry; got ${registry === null ? 'null' : typeof registry}`);
  }
  if (typeof source !== 'function') throw new InvalidArgumentError(`registerClusterMetrics needs a source function, such as () => cluster.metrics(); got ${typeof source}`);
  const scrape = perScrape(source);
  const names: string[] = [];
  for (const f of NODE_FAMILIES) {
    const labelNames = ['node'];
    const collect = async function (this: Gauge | Counter): Promise<void> {
      const m = await scrape();
      this.reset();
      for (const n of m.nodes) {
        const v = f.value(n);
        if (!finite(v)) continue;
        if (this instanceof Gauge) this.set({ node: n.node }, v);
        else this.inc({ node: n.node }, Math.max(0, v));
      }
    };
    const cfg = { name: f.name, help: f.help, labelNames, registers: [registry], collect };
    (f.type === 'counter' ? new Counter(cfg) : new Gauge(cfg));
    names.push(f.name);
  }
  new Gauge({
    name: 'leaderless_node_state',
    help: 'The failure detector\'s view of each node as a state-set: 1 for the state the node is in, 0 for the others.',
    labelNames: ['node', 'state'],
    registers: [registry],
    async collect() {
      const m = await scrape();
      this.reset();
      for (const n of m.nodes) for (const s of NODE_STATES) this.set({ node: n.node, state: s }, n.status === s ? 1 : 0);
    },
  });
  names.push('leaderless_node_state');
  for (const f of CLIENT_FAMILIES) {
    const collect = async function (this: Gauge | Counter): Promise<void> {
      const m = await scrape();
      this.reset();
      const v = f.value(m);
      if (!finite(v)) return;
      if (this instanceof Gauge) this.set(v);
      else this.inc(Math.max(0, v));
    };
    const cfg = { name: f.name, help: f.help, registers: [registry], collect };
    (f.type === 'counter' ? new Counter(cfg) : new Gauge(cfg));
    names.push(f.name);
  }
  const h = latencyHistogram(scrape);
  registry.registerMetric(h as unknown as Parameters<Registry['registerMetric']>[0]);
  names.push(h.name);
  return { names, unregister: () => names.forEach((n) => registry.removeSingleMetric(n)) };
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The Prometheus text of one metrics() snapshot (a registry of its own, read once). */
export async function metricsText(metrics: ScrapeInput): Promise<string> {
  const registry = new Registry();
  registerClusterMetrics(registry, () => metrics);
  return registry.metrics();
}
