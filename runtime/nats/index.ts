// The NATS runtime: replicas served by several processes on several machines (server.ts, one worker thread per
// replica, replica-worker.ts), and clients that connect from anywhere (cluster.ts). See the README's "Scale-out
// over NATS".
export { NatsCluster, type ConnectOptions } from './cluster.js';
export { NatsServer, type ServeOptions } from './server.js';
export { RemoteUnsupportedError } from './errors.js';
export type { NatsEndpoint, NatsTls } from './connection.js';
