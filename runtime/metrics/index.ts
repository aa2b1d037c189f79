// The Prometheus exposition of cluster.metrics(), kept at this path for its importers (cluster.ts, index.ts).
// The families live in runtime/metrics/families.ts, the prom-client registration in runtime/metrics/prometheus.ts:
//
//   registerClusterMetrics(registry, () => cluster.metrics())   into an application's own prom-client Registry
//   await metricsText(await cluster.metrics())                  one snapshot as text (content type METRICS_CONTENT_TYPE)
export {
  metricsText,
  registerClusterMetrics,
  METRICS_CONTENT_TYPE,
  LATENCY_FAMILY,
  type ClusterMetricsRegistration,
  type MetricsSource,
  type ScrapeInput,
} from './prometheus.js';
export { LATENCY_BUCKETS_US, type LatencyBuckets } from './latency.js';
