// Quorum puts and gets over NATS against the in-process thread cluster, on this machine (issue 14):
//   npm run build && node dist/bench/nats-bench.js [--seconds 5] [--in-flight 256] [--connect nats://... --cluster NAME]
// Without --connect it starts a local nats-server on a free port and three `leaderless serve` processes of two
// replicas each (six nodes, N=3, R=W=2), and ends them all when done. Then it runs the same closed-loop workload
// (150-byte values over 10,000 keys, `in-flight` operations at once) against Cluster.start with six nodes. It prints
// ops/s and p50/p99 latency for each; every process it started is ended, whatever happens.
import { Cluster, type LeaderlessClient } from '../runtime/index.js';
import { LocalNats, natsServerBinary } from './nats-local.js';

interface Args {
  seconds: number;
  inFlight: number;
  connect?: string;
  cluster: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 5, inFlight: 256, cluster: 'bench' };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--seconds') a.seconds = Math.min(20, Math.max(1, Number(v)));
    else if (k === '--in-flight') a.inFlight = Math.max(1, Number(v));
    else if (k === '--connect') a.connect = v;
    else if (k === '--cluster') a.cluster = v;
    else throw new Error(`unknown argument ${k}; allowed: --seconds, --in-flight, --connect, --cluster`);
  }
  return a;
}

const VALUE = 'x'.repeat(150);
const KEYS = 10_000;

interface Result {
  label: string;
  ops: number;
  failed: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

/** A closed loop of `inFlight` workers doing `op` for `seconds`. */
async function run(label: string, c: LeaderlessClient, op: 'put' | 'get', inFlight: number, seconds: number): Promise<Result> {
  let ops = 0;
  let failed = 0;
  let seed = 1;
  const next = (): string => `k${(seed = (seed * 1103515245 + 12345) % 2 ** 31) % KEYS}`;
  const before = c.latency()[op === 'put' ? 'write' : 'read'].count;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        try {
          if (op === 'put') await c.put(next(), VALUE);
          else await c.get(next());
          ops++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const s = (performance.now() - start) / 1000;
  const lat = c.latency()[op === 'put' ? 'write' : 'read'];
  if (lat.count <= before) throw new Error(`${label}: no latency recorded`);
  return { label: `${label} ${op}`, ops, failed, opsPerSec: ops / s, p50Us: lat.p50Us, p99Us: lat.p99Us };
}

async function workload(label: string, c: LeaderlessClient, a: Args): Promise<Result[]> {
  await run(label, c, 'put', a.inFlight, 1); // warm-up: JIT, connections, every key written once or so
  return [await run(label, c, 'put', a.inFlight, a.seconds), await run(label, c, 'get', a.inFlight, a.seconds)];
}

function table(rows: Result[]): string {
  const head = 'run                      ops/s      p50 us    p99 us   failed';
  const lines = rows.map((r) => `${r.label.padEnd(22)} ${r.opsPerSec.toFixed(0).padStart(8)} ${r.p50Us.toFixed(0).padStart(10)} ${r.p99Us.toFixed(0).padStart(9)} ${String(r.failed).padStart(8)}`);
  return [head, ...lines].join('\n') + '\n';
}

async function overNats(a: Args): Promise<Result[]> {
  let local: LocalNats | undefined;
  let url = a.connect;
  if (url === undefined) {
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error('nats-server is not installed (apt-get install nats-server); or give --connect nats://... --cluster NAME');
    local = await LocalNats.start(binary);
    process.once('exit', () => local?.stopAll());
    url = local.url;
    await local.serve(a.cluster, [0, 1], ['--size', '6', '--n', '3', '--r', '2', '--w', '2']);
    await local.serve(a.cluster, [2, 3]);
    await local.serve(a.cluster, [4, 5]);
  }
  try {
    const c = await Cluster.connect({ nats: url, cluster: a.cluster });
    try {
      return await workload(`nats (${c.config.nodes.length} nodes)`, c, a);
    } finally {
      await c.stop();
    }
  } finally {
    local?.stopAll();
  }
}

async function inProcess(a: Args): Promise<Result[]> {
  const c = await Cluster.start({ nodes: 6, replication: 3, read: 2, write: 2 });
  try {
    return await workload('in-process (6 nodes)', c, a);
  } finally {
    await c.stop();
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  process.stdout.write(`quorum (N=3, R=W=2) puts and gets of 150-byte values, ${a.inFlight} in flight, ${a.seconds} s each\n`);
  const rows = [...(await overNats(a)), ...(await inProcess(a))];
  process.stdout.write(table(rows));
}

main().catch((e: unknown) => {
  process.stderr.write(`nats-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
