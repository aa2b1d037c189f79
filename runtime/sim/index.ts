// The deterministic simulated runtime: SimCluster (sim-cluster.ts) and what a harness needs beside it.
export { SimCluster, MAX_CLIENTS, MAX_WAIT_MS, type SimCounters, type SimOptions } from './sim-cluster.js';
export { SimClient } from './sim-client.js';
export { Prng, sample, checkDistribution, type Distribution } from '../host/prng.js';
export { DEFAULT_LATENCY, type NetworkOptions } from './network.js';
