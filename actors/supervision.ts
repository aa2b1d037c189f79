// Supervision as policy: what the failure detector is tuned with, and the one-for-one restart policy (restart a
// crashed replica after `delayMs`, at most `maxRestarts` times within `withinMs`; past that it stays down). Pure and
// given the time, so the thread runtime's supervisor and the simulator decide restarts with the same code.

export interface DetectorOptions {
  /** phi at which a node is held down (Cassandra's phi_convict_threshold default is 8) */
  threshold: number;
  /** how often the supervisor samples heartbeats */
  sampleMs: number;
  minStdDeviationMs: number;
  acceptableHeartbeatPauseMs: number;
}

export interface RestartOptions {
  maxRestarts: number;
  withinMs: number;
  delayMs: number;
}

// Defaults tolerate a busy 2-core machine: a worker saturated by a benchmark can miss a few 10 ms ticks, and a
// false "down" would send writes to fallbacks for nothing. Detection takes about 0.5 s with these (detectionTimeMs).
export const DEFAULT_DETECTOR: DetectorOptions = {
  threshold: 8,
  sampleMs: 50,
  minStdDeviationMs: 50,
  acceptableHeartbeatPauseMs: 250,
};

export const DEFAULT_RESTART: RestartOptions = { maxRestarts: 5, withinMs: 10_000, delayMs: 50 };

/** The restart decision for one crash: restart after delayMs, or give up with the reason. */
export type RestartDecision = { restart: true; delayMs: number } | { restart: false; reason: string };

/** One-for-one restarts with an intensity limit (Erlang/OTP's MaxR within MaxT), per node. */
export class RestartPolicy {
  private readonly recent: number[][];

  constructor(
    readonly options: RestartOptions,
    nodes: number,
  ) {
    this.recent = Array.from({ length: nodes }, () => []);
  }

  /** Node `node` crashed at `nowMs`: whether (and when) it is restarted. */
  crashed(node: number, nowMs: number): RestartDecision {
    const { withinMs, maxRestarts, delayMs } = this.options;
    const recent = this.recent[node].filter((t) => nowMs - t < withinMs);
    this.recent[node] = recent;
    if (recent.length >= maxRestarts) {
      return { restart: false, reason: `${recent.length} restarts within ${withinMs} ms (limit ${maxRestarts}); the node stays down` };
    }
    recent.push(nowMs);
    return { restart: true, delayMs };
  }
}
