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

/**
 * Calls `resolve` with the next `event` for `node` on `emitter`, or `reject` with TIMEOUT after timeoutMs. The
 * callbacks run synchronously with the event: the simulator's pump must learn at once that the wait is over, or it
 * would run virtual time on past the event before a promise callback told it.
 */
export function awaitEvent(
  emitter: EventEmitter,
  w: { event: ClusterEvent; node: number; timeoutMs: number; timer: StartTimer },
  resolve: (e: NodeEvent) => void,
  reject: (e: TimeoutError) => void,
): void {
  const listener = (e: NodeEvent): void => {
    if (e.node !== w.node) return;
    cancel();
    emitter.off(w.event, listener);
    resolve(e);
  };
  const cancel = w.timer(w.timeoutMs, () => {
    emitter.off(w.event, listener);
    reject(new TimeoutError(`no ${w.event} event for node ${w.node} within ${w.timeoutMs} ms`));
  });
  emitter.on(w.event, listener);
}
