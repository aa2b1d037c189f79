// A local NATS cluster of processes for the NATS test and benchmark: a nats-server on a free loopback port and
// `leaderless serve` processes, each started and awaited with a bounded deadline, and every one of them ended by
// stopAll() (SIGCONT first, so that a stopped process can die). Nothing here may outlive the caller.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./cli.js', import.meta.url));

/** The nats-server binary (Debian installs it in /usr/sbin), or undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, deadlineMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

/**
 * A TCP proxy in front of the NATS server, for a real cut between one process and NATS: cut() drops every connection
 * through it and refuses new ones until heal(), so the process's NATS client sees its connection fail and reconnects
 * (with its subscriptions) once healed.
 */
export class NatsProxy {
  private isCut = false;
  private constructor(
    readonly url: string,
    private readonly server: Server,
    private readonly sockets: Set<Socket>,
  ) {}

  static async start(targetPort: number): Promise<NatsProxy> {
    const sockets = new Set<Socket>();
    let proxy: NatsProxy | undefined;
    const server = createServer((client) => {
      if (proxy?.isCut === true) return void client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    proxy = new NatsProxy(`nats://127.0.0.1:${port}`, server, sockets);
    return proxy;
  }

  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.isCut = false;
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

export class LocalNats {
  readonly procs = new Set<ChildProcess>();
  private constructor(
    readonly url: string,
    private readonly server: ChildProcess,
  ) {
    this.procs.add(server);
  }

  static async start(binary: string): Promise<LocalNats> {
    const port = await freePort();
    const server = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const local = new LocalNats(`nats://127.0.0.1:${port}`, server);
    try {
      await until('nats-server to listen', 5000, () => canConnect(port));
    } catch (e) {
      local.stopAll();
      throw e;
    }
    return local;
  }

  /** A proxy to this server (see NatsProxy); stopAll() closes it. */
  async proxy(): Promise<NatsProxy> {
    const p = await NatsProxy.start(Number(new URL(this.url.replace('nats:', 'http:')).port));
    this.proxies.push(p);
    return p;
  }

  private readonly proxies: NatsProxy[] = [];

  /** Starts `leaderless serve` for `nodes` (through `url`, default the server's); resolves once it printed its ready line. */
  async serve(cluster: string, nodes: number[], args: string[] = [], deadlineMs = 15_000, url = this.url): Promise<ChildProcess> {
    const p = spawn(process.execPath, [CLI, 'serve', '--nats', url, '--cluster', cluster, '--nodes', nodes.join(','), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await until(`serve ${nodes.join(',')} to be ready (stderr: ${err.trim()})`, deadlineMs, () => {
      if (p.exitCode !== null) throw new Error(`serve ${nodes.join(',')} exited with ${p.exitCode}: ${err.trim()}`);
      return out.includes('ready');
    });
    return p;
  }

  /** SIGKILL, and waits for the exit. */
  async kill(p: ChildProcess): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Ends everything started here (synchronous, so it can run from an exit handler). */
  stopAll(): void {
    for (const p of this.procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    }
    this.procs.clear();
    for (const p of this.proxies) p.close();
    this.proxies.length = 0;
    if (this.server.exitCode === null) this.server.kill('SIGKILL');
  }
}
