// How every thread of the NATS runtime connects: a plain, structured-cloneable description of the server and its
// credentials (a worker thread cannot be handed a NatsConnection or an authenticator function), turned into the
// client library's options in the thread that connects. Credentials and TLS pass through to @nats-io/transport-node
// unchanged: a process without the cluster's credentials is refused by the server and can neither join nor read.
//
// Subjects: everything of one cluster lives under `leaderless.<cluster>.`:
//   node.<id>      wire batches (runtime/threads/wire.ts) for replica <id>
//   client.<addr>  wire batches for a client
//   hb             heartbeats of every replica (JSON { node, inc }), for failure detection
//   config         request/reply: the cluster's options and which process hosts which nodes
//   ctl.<id>       request/reply: control calls to replica <id> (stats, repair, inspect), JSON

import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { InvalidConfigError, show } from '../../actors/errors.js';

export interface NatsTls {
  /** PEM files: the CA that signed the server's certificate, and this process's certificate and key (mutual TLS) */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Where the NATS server is and how to authenticate: plain data, posted to worker threads as is. */
export interface NatsEndpoint {
  /** nats://host:port, or several (a NATS cluster) */
  servers: string | string[];
  user?: string;
  pass?: string;
  token?: string;
  /** a NATS .creds file (JWT + nkey seed), as `nsc` writes it */
  credsFile?: string;
  tls?: NatsTls;
}

const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A cluster name is one subject token: letters, digits, '_' and '-'. */
export function checkClusterName(name: unknown): string {
  if (typeof name !== 'string' || !CLUSTER_NAME.test(name)) {
    throw new InvalidConfigError(`cluster must be a name of 1 to 64 letters, digits, '_' or '-' (it becomes a NATS subject token); got ${show(name)}`);
  }
  return name;
}

export function checkEndpoint(e: unknown): NatsEndpoint {
  const x = e as Partial<NatsEndpoint> | null;
  if (x === null || typeof x !== 'object') throw new InvalidConfigError(`nats must be a URL string or { servers, user?, pass?, token?, credsFile?, tls? }; got ${show(e)}`);
  const servers = Array.isArray(x.servers) ? x.servers : [x.servers];
  for (const s of servers) {
    if (typeof s !== 'string' || !/^(nats|tls):\/\/[^\s]+$/.test(s)) {
      throw new InvalidConfigError(`nats server must be a URL like nats://127.0.0.1:4222 (or tls://...); got ${show(s)}`);
    }
  }
  for (const k of ['user', 'pass', 'token', 'credsFile'] as const) {
    if (x[k] !== undefined && typeof x[k] !== 'string') throw new InvalidConfigError(`nats ${k} must be a string; got ${show(x[k])}`);
  }
  return x as NatsEndpoint;
}

export class Subjects {
  readonly prefix: string;
  constructor(cluster: string) {
    this.prefix = `leaderless.${checkClusterName(cluster)}`;
  }
  node(id: number): string {
    return `${this.prefix}.node.${id}`;
  }
  client(addr: number): string {
    return `${this.prefix}.client.${addr}`;
  }
  get heartbeat(): string {
    return `${this.prefix}.hb`;
  }
  get config(): string {
    return `${this.prefix}.config`;
  }
  control(id: number): string {
    return `${this.prefix}.ctl.${id}`;
  }
}

/** The client library's options for an endpoint (read in the thread that connects: files, authenticators). */
export function connectionOptions(e: NatsEndpoint, name: string): NodeConnectionOptions {
  const o: NodeConnectionOptions = {
    servers: e.servers,
    name,
    // a process cut off from NATS keeps trying: it rejoins when the server is reachable again
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // the first connection fails at once (a typed error, see connectTo): a promise that never settled would be worse
    waitOnFirstConnect: false,
    timeout: 5000,
    pingInterval: 2000,
    maxPingOut: 2,
  };
  if (e.user !== undefined) o.user = e.user;
  if (e.pass !== undefined) o.pass = e.pass;
  if (e.token !== undefined) o.token = e.token;
  if (e.credsFile !== undefined) o.authenticator = credsAuthenticator(readFileSync(e.credsFile));
  if (e.tls !== undefined) o.tls = { ...e.tls };
  return o;
}

/** Connects; a server that cannot be reached (or refuses the credentials) is an InvalidConfigError saying which. */
export async function connectTo(e: NatsEndpoint, name: string, extra: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
  try {
    return await connect({ ...connectionOptions(e, name), ...extra });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidConfigError(`cannot connect to NATS at ${[e.servers].flat().join(', ')}: ${why}; is nats-server running there, and are the credentials right?`);
  }
}

export type { NatsConnection };
