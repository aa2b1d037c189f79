// Cluster events (node-up, node-down, node-crashed, ...), the same in both runtimes: the thread runtime's supervisor
// emits them from the failure detector and the restart policy; the simulator emits them when it kills, restarts,
// pauses or resumes a node. waitFor takes the runtime's timer, so a timeout is real time in threads and virtual time
// in the simulator.

import type { EventEmitter } from 'node:events';
import { InvalidArgumentError, TimeoutError, show } from '../../actors/errors.js';
import type { ClusterEvent, NodeEvent } from '../api.js';

export const EVENTS: readonly ClusterEvent[] = [
  'node-up', 'node-suspect', 'node-down', 'node-crashed', 'node-restarted', 'node-given-up', 'node-paused', 'node-resumed',
];

/** A misspelt event name would never fire: a listener on it waits forever. */
export function checkEvent(event: unknown): asserts event is ClusterEvent {
  if (!EVENTS.includes(event as ClusterEvent)) {
    throw new InvalidArgumentError(`unknown cluster event ${show(event)}; events: ${EVENTS.join(', ')}`);
  }
}

export function checkListener(event: string, listener: unknown): void {
  if (typeof listener !== 'function') throw new InvalidArgumentError(`on(${event}) needs a listener function`);
}

export function checkWaitTimeout(timeoutMs: unknown, call: string): number {
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > 3_600_000) {
    throw new InvalidArgumentError(`${call} takes a timeout in ms from 0 to 3600000; got ${show(timeoutMs)}`);
  }
  return timeoutMs;
}

/** A timer in the runtime's time: calls `fire` after `ms` unless the returned cancel is called first. */
export type StartTimer = (ms: number, fire: () => void) => () => void;

/** Resolves with the next `event` for `node` on `emitter`, or rejects with TIMEOUT after timeoutMs. */
export function waitForEvent(emitter: EventEmitter, event: ClusterEvent, node: number, timeoutMs: number, timer: StartTimer): Promise<NodeEvent> {
  return new Promise((resolve, reject) => {
    const listener = (e: NodeEvent): void => {
      if (e.node !== node) return;
      cancel();
      emitter.off(event, listener);
      resolve(e);
    };
    const cancel = timer(timeoutMs, () => {
      emitter.off(event, listener);
      reject(new TimeoutError(`no ${event} event for node ${node} within ${timeoutMs} ms`));
    });
    emitter.on(event, listener);
  });
}
