// Compatibility re-exports: the client coordinator now lives in actors/coordinator/ (client.ts and the files beside
// it), composed into ClusterClient and SimClient; latency histograms are runtime/host/latency.ts. Import from those
// directly; this file goes once nothing imports it.

export { CLIENT_KEYS, checkCrashOptions, checkOptions } from '../../actors/coordinator/checks.js';
export { afterFailover, PROBE_REQ } from '../../actors/coordinator/writes.js';
export { toInspection, toResult } from '../../actors/coordinator/results.js';
export type {
  ClientCounters,
  GetOptions,
  GetResult,
  Inspection,
  PutOptions,
  PutResult,
} from '../../actors/coordinator/results.js';
export type { LatencySummary } from '../latency.js';
