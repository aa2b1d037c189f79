// How a process learns the cluster it joins or connects to: the endpoint it was given (checked), and the answer of
// the config subject (leaderless.<cluster>.config), which every serving process gives: the cluster's options and
// the nodes that process hosts.

import type { ClusterOptions } from '../config.js';
import { checkEndpoint, type NatsConnection, type NatsEndpoint, type Subjects } from './connection.js';

/** What the config subject answers. */
export interface ConfigAnswer {
  options: ClusterOptions;
  /** the nodes the answering process hosts */
  nodes: number[];
}

export function endpointOf(nats: string | NatsEndpoint): NatsEndpoint {
  return checkEndpoint(typeof nats === 'string' ? { servers: nats } : nats);
}

/** The options the running cluster answers with, or undefined when no serving process answers within `ms`. */
export async function discover(nc: NatsConnection, subjects: Subjects, ms: number): Promise<ConfigAnswer | undefined> {
  try {
    const reply = await nc.request(subjects.config, '', { timeout: ms });
    return reply.json<ConfigAnswer>();
  } catch {
    return undefined; // no responders, or a timeout: no serving process yet
  }
}

