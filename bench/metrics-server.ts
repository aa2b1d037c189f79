// `--metrics-port P`: serves the running cluster's metrics on 127.0.0.1 while a bench or sweep runs.
//
//   GET /metrics   Prometheus text: the families of runtime/metrics/prometheus.ts, registered into this server's own
//                  prom-client Registry with registerClusterMetrics (as an application embedding a cluster does)
//   GET /health    JSON from cluster.health(), where the cluster has it (404 otherwise)
// The cluster changes between the runs of a sweep, so the server asks a getter for the current one on every scrape;
// between runs it answers 503. A scrape that takes longer than 2 s (a control call to a dead worker) answers 503 too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { registerClusterMetrics } from '../runtime/index.js';
import type { BenchCluster } from './run.js';

const SCRAPE_TIMEOUT_MS = 2_000;

type Scrapable = BenchCluster & { health?(): unknown };

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

async function scrape<T>(work: () => Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), SCRAPE_TIMEOUT_MS)));
  try {
    return await Promise.race([work(), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function answer(path: string, cluster: Scrapable | undefined): Promise<{ status: number; type: string; body: string }> {
  const text = (status: number, body: string) => ({ status, type: 'text/plain; charset=utf-8', body });
  if (path !== '/metrics' && path !== '/health') return text(404, 'not found: try /metrics or /health\n');
  if (cluster === undefined) return text(503, 'no cluster is running right now\n');
  if (path === '/health') {
    if (typeof cluster.health !== 'function') return text(404, 'this cluster has no health() yet\n');
    const h = await scrape(async () => cluster.health!());
    return h === undefined ? text(503, 'health() did not answer in time\n') : { status: 200, type: 'application/json', body: JSON.stringify(h) };
  }
  if (typeof cluster.metrics !== 'function') return text(404, 'this cluster has no metrics()\n');
  const body = await scrape(() => registryOf(cluster).metrics());
  return body === undefined ? text(503, 'metrics did not answer in time\n') : { status: 200, type: Registry.PROMETHEUS_CONTENT_TYPE, body };
}

/** One registry per cluster (a sweep runs several in turn), its families reading that cluster's metrics() on each scrape. */
const registries = new WeakMap<Scrapable, Registry>();
function registryOf(cluster: Scrapable): Registry {
  let r = registries.get(cluster);
  if (r === undefined) {
    registries.set(cluster, (r = new Registry()));
    registerClusterMetrics(r, () => cluster.metrics!());
  }
  return r;
}

/** Listens on 127.0.0.1:port (0 picks a free port; the returned port says which). */
export async function startMetricsServer(port: number, current: () => BenchCluster | undefined): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    answer(path, current() as Scrapable | undefined).then(
      (a) => res.writeHead(a.status, { 'content-type': a.type }).end(a.body),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.unref(); // serving metrics never keeps the process alive on its own
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
