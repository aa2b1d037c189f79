// What a remote client (Cluster.connect over NATS) cannot do, as a typed error that says so and what to use instead.

import { LeaderlessError } from '../../actors/errors.js';

/** A call of the embedded cluster's API that has no meaning or no implementation for a client connected over NATS. */
export class RemoteUnsupportedError extends LeaderlessError {
  constructor(call: string, why: string) {
    super('INVALID_ARGUMENT', `${call} is not available on a cluster connected over NATS: ${why}`, { call });
  }
}
