// Durations on the command line, as cassandra-stress users write them: `500ms`, `3s`, `1.5s`, `2m`, or a plain number
// in the option's own unit (seconds for --duration and fault times, milliseconds for a fault's added delay).
//
// Use: parseDurationMs('2m', 's') === 120_000; parseDurationMs('250', 'ms') === 250
import { InvalidConfigError } from '../runtime/index.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

/** What a duration may look like, for error messages. */
export function durationHelp(bareUnit: DurationUnit): string {
  return `write a number with a unit, ms, s or m (e.g. 500ms, 3s, 1.5s, 2m); a plain number is ${bareUnit === 'ms' ? 'milliseconds' : bareUnit === 's' ? 'seconds' : 'minutes'}`;
}

/** Milliseconds, or undefined when `text` is not a duration. */
export function tryDurationMs(text: string, bareUnit: DurationUnit): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m)?$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]) * UNIT_MS[(m[2] as DurationUnit | undefined) ?? bareUnit];
  return Number.isFinite(ms) ? ms : undefined;
}

/** Milliseconds; a malformed duration throws one line naming `what` and saying what is allowed. */
export function parseDurationMs(text: string, bareUnit: DurationUnit, what = 'duration'): number {
  const ms = tryDurationMs(text, bareUnit);
  if (ms === undefined) throw new InvalidConfigError(`${what} "${text}" is not a duration; ${durationHelp(bareUnit)}`);
  return ms;
}
