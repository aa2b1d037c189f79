// What a command needs around a run: the progress bar, the metrics server, and the output files. Everything that can
// be refused is refused before the run starts, in one line (exit code 2): an output path that cannot be written, a
// metrics port that is in use. Finding out after a five-minute run is too late.
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Cluster, InvalidConfigError, type ClusterOptions } from '../runtime/index.js';
import type { CommonOptions } from './cli-options.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { ProgressBar } from './progress.js';
import { realClock, type BenchCluster, type ClusterFactory, type RunDeps } from './run.js';

const threadCluster = (options: ClusterOptions): Promise<BenchCluster> => Cluster.start(options);

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** Throws one line when `path` cannot be written: a directory, a missing or read-only folder, a read-only file. */
export function checkWritable(flag: string, path: string): void {
  const bad = (why: string): InvalidConfigError => new InvalidConfigError(`${flag} ${path}: ${why}; give a file in a folder you can write`);
  let isDir: boolean | undefined;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw bad(`cannot be checked (${errno(e) ?? String(e)})`);
  }
  if (isDir === true) throw bad('is a folder');
  const target = isDir === false ? path : dirname(resolve(path));
  try {
    if (isDir === undefined && !statSync(target).isDirectory()) throw bad(`${target} is not a folder`);
    accessSync(target, constants.W_OK);
  } catch (e) {
    if (e instanceof InvalidConfigError) throw e;
    const code = errno(e);
    throw bad(code === 'ENOENT' ? `the folder ${target} does not exist` : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `${target} is not writable` : `cannot be written (${code ?? String(e)})`);
  }
}

/** Checks the output files before the run. */
export function checkOutputs(o: CommonOptions): void {
  if (o.json !== undefined) checkWritable('--json', o.json);
  if (o.html !== undefined) checkWritable('--html', o.html);
  if (o.json !== undefined && o.html !== undefined && resolve(o.json) === resolve(o.html)) throw new InvalidConfigError('--json and --html name the same file');
}

async function metricsServer(port: number, current: () => BenchCluster | undefined): Promise<MetricsServer> {
  try {
    return await startMetricsServer(port, current);
  } catch (e) {
    const code = errno(e);
    if (code === 'EADDRINUSE') throw new InvalidConfigError(`--metrics-port ${port}: the port is in use on 127.0.0.1; choose another, or 0 for any free port`);
    if (code === 'EACCES') throw new InvalidConfigError(`--metrics-port ${port}: not allowed to listen there; choose a port above 1023, or 0 for any free port`);
    throw e;
  }
}

export interface Session {
  deps: RunDeps;
  bar: ProgressBar | undefined;
  close(): Promise<void>;
}

/**
 * The run dependencies: the thread cluster, or `factory` (a cluster served over NATS, bench/connect.ts); the metrics
 * server (if asked for) is listening when this returns.
 */
export async function session(o: CommonOptions, factory: ClusterFactory = threadCluster): Promise<Session> {
  const bar = o.progress ? new ProgressBar(process.stderr) : undefined;
  let current: BenchCluster | undefined;
  let server: MetricsServer | undefined;
  if (o.metricsPort !== undefined) {
    server = await metricsServer(o.metricsPort, () => current);
    process.stderr.write(`metrics on http://127.0.0.1:${server.port}/metrics\n`);
  }
  const deps: RunDeps = {
    factory,
    clock: realClock(),
    ...(bar !== undefined ? { onProgress: (p) => bar.update(p) } : {}),
    onCluster: (c) => {
      current = c;
      return () => {
        current = undefined;
      };
    },
  };
  return { deps, bar, close: async () => server?.close() };
}

export function writeOutputs(o: CommonOptions, json: unknown, html: () => string): void {
  if (o.json !== undefined) {
    writeFileSync(o.json, JSON.stringify(json, null, 2) + '\n');
    process.stderr.write(`wrote ${o.json}\n`);
  }
  if (o.html !== undefined) {
    writeFileSync(o.html, html());
    process.stderr.write(`wrote ${o.html}\n`);
  }
}
