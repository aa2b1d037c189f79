// `leaderless serve`: host some of a cluster's replicas in this process, over NATS (runtime/nats/server.ts). Three
// processes make a six-replica cluster:
//   leaderless serve --nats nats://127.0.0.1:4222 --cluster demo --size 6 --nodes 0,1
//   leaderless serve --nats nats://127.0.0.1:4222 --cluster demo --nodes 2,3
//   leaderless serve --nats nats://127.0.0.1:4222 --cluster demo --nodes 4,5
// The first process's options (--size, --n, --r, --w, --conflicts, --no-sloppy, --timeout-ms, --options) are the
// cluster's; later ones adopt them (or must give the same). SIGTERM/SIGINT stop it; SIGUSR2 cuts it off from NATS
// and heals the cut (a fault for tests).
import { Command, Option } from 'commander';
import { NatsServer, type ClusterOptions, type NatsEndpoint } from '../runtime/index.js';
import { given, int, usage } from './cli-options.js';

interface ServeCliOptions {
  nats: string;
  cluster: string;
  nodes: string;
  size?: number;
  n?: string;
  r?: string;
  w?: string;
  conflicts?: 'siblings' | 'lww';
  sloppy: boolean;
  timeoutMs?: number;
  options?: string;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

const CLUSTER_FLAGS = ['size', 'n', 'r', 'w', 'conflicts', 'sloppy', 'timeoutMs', 'options'];

export function addServeCommand(cmd: Command): void {
  cmd
    .command('serve')
    .description("host some of a cluster's replicas in this process (a worker thread each), talking over NATS")
    .requiredOption('--nats <url>', 'the NATS server, e.g. nats://127.0.0.1:4222 (several: comma-separated)')
    .requiredOption('--cluster <name>', "the cluster's name (its subjects are leaderless.NAME.*)")
    .requiredOption('--nodes <ids>', 'the node ids this process hosts, e.g. 0,1')
    .addOption(new Option('--size <n>', 'replicas in the whole cluster (first process; later ones adopt it)').argParser(int('--size', 1, 256)))
    .addOption(new Option('--n <n>', 'replication factor N'))
    .addOption(new Option('--r <level>', 'read consistency'))
    .addOption(new Option('--w <level>', 'write consistency'))
    .addOption(new Option('--conflicts <mode>', 'siblings or lww').choices(['siblings', 'lww']))
    .addOption(new Option('--no-sloppy', 'strict quorums'))
    .addOption(new Option('--timeout-ms <ms>', 'default per-operation timeout').argParser(int('--timeout-ms', 1, 3_600_000)))
    .addOption(new Option('--options <json>', 'any other cluster options, as the JSON of Cluster.start options'))
    .addOption(new Option('--user <name>', 'NATS user'))
    .addOption(new Option('--pass <password>', 'NATS password'))
    .addOption(new Option('--token <token>', 'NATS token'))
    .addOption(new Option('--creds <file>', 'NATS .creds file (JWT and nkey seed)'))
    .addOption(new Option('--tls-ca <file>', 'CA certificate (PEM) of the NATS server'))
    .addOption(new Option('--tls-cert <file>', 'client certificate (PEM), for mutual TLS'))
    .addOption(new Option('--tls-key <file>', 'client key (PEM), for mutual TLS'))
    .action(async (o: ServeCliOptions, command: Command) => {
      await serve(o, command);
    });
}

function endpoint(o: ServeCliOptions): NatsEndpoint {
  const tls = o.tlsCa !== undefined || o.tlsCert !== undefined || o.tlsKey !== undefined
    ? { ...(o.tlsCa !== undefined ? { caFile: o.tlsCa } : {}), ...(o.tlsCert !== undefined ? { certFile: o.tlsCert } : {}), ...(o.tlsKey !== undefined ? { keyFile: o.tlsKey } : {}) }
    : undefined;
  return {
    servers: o.nats.split(','),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.pass !== undefined ? { pass: o.pass } : {}),
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(o.creds !== undefined ? { credsFile: o.creds } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
}

const level = (text: string): ClusterOptions['read'] => (/^\d+$/.test(text) ? Number(text) : (text.toUpperCase() as ClusterOptions['read']));

function clusterOptions(o: ServeCliOptions, command: Command): ClusterOptions | undefined {
  if (!CLUSTER_FLAGS.some((f) => given(command, f))) return undefined; // adopt the running cluster's
  let extra: ClusterOptions = {};
  if (o.options !== undefined) {
    try {
      extra = JSON.parse(o.options) as ClusterOptions;
    } catch {
      throw usage(`--options must be JSON, e.g. '{"hintAfterMs":50}'; got ${o.options}`);
    }
  }
  return {
    ...extra,
    ...(o.size !== undefined ? { nodes: o.size } : {}),
    ...(o.n !== undefined ? { replication: Number(o.n) } : {}),
    ...(o.r !== undefined ? { read: level(o.r) } : {}),
    ...(o.w !== undefined ? { write: level(o.w) as ClusterOptions['write'] } : {}),
    ...(o.conflicts !== undefined ? { conflicts: o.conflicts } : {}),
    ...(given(command, 'sloppy') ? { sloppy: o.sloppy } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  };
}

async function serve(o: ServeCliOptions, command: Command): Promise<void> {
  const nodes = o.nodes.split(',').map((s) => (/^\d+$/.test(s.trim()) ? Number(s) : NaN));
  if (nodes.some(Number.isNaN)) throw usage(`--nodes takes node ids like 0,1; got ${o.nodes}`);
  const options = clusterOptions(o, command);
  const log = (line: string): void => void process.stderr.write(`leaderless serve: ${line}\n`);
  const server = await NatsServer.start({ nats: endpoint(o), cluster: o.cluster, nodes, ...(options !== undefined ? { options } : {}), log });
  process.stdout.write(`ready ${nodes.join(',')}\n`); // one line a supervisor (or a test) can wait for
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.stop().then(resolve, resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGUSR2', () => server.cut(!server.isCut));
  });
}
