// Seeded randomized runs of the simulated cluster, judged by the independent oracle (test/helpers/kv-oracle.ts).
// Each seed draws a CONFIGURATION (3-7 nodes, N 1-5, read and write levels of every kind, vnodes, read fanout,
// sloppy or strict, read repair mode, shared-memory reads, short hint TTLs and windows, short tombstone grace,
// small stores, short timeouts, anti-entropy intervals, latency and duplicates) and a SCHEDULE (partitions with
// clients on both sides, kills and restarts, two nodes down and back at once, crashes with wipe bounded by W,
// pauses, delays, drops) beside a workload of churning clients (read-modify-writes from a read's or a put's context,
// blind puts, deletes with and without context, reads at every level). Then it heals everything, settles, runs two
// anti-entropy rounds, inspects every node, reads every key at ALL, runs a calm phase (puts at ALL on fresh keys,
// each read back once at the drawn read level), and asks the oracle.
//
// CI runs CI_SEEDS seeds; RANDOM_SEEDS=N runs N; RANDOM_SEED=S replays one (its config and violations printed);
// RANDOM_REPORT=FILE appends one JSON line per seed (for classifying violations over long runs). The one excuse is
// the documented at-least-once of opt-in coordinator failover (AT_LEAST_ONCE below), reported as todo, not hidden.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { kindsOf } from './helpers/kv-oracle.js';
import { describeDrawn, runSeed } from './helpers/sim-random-run.js';
import { seedsFromEnv } from './helpers/seeds.js';

/** seeds `npm test` runs (about 27 ms of CPU each: 200 take 6-15 s on this 2-core machine, depending on load) */
const CI_SEEDS = 200;
/** RANDOM_OVERRIDE='{"sloppy":false}' replaces drawn options: to see which mechanism a violation needs. */
const OVERRIDE = JSON.parse(process.env.RANDOM_OVERRIDE ?? '{}') as Record<string, unknown>;

/**
 * What opting in to coordinator failover (coordinatorFailoverMs > 0) documents: a write may be applied by two
 * coordinators under two dots (at least once), so its value can show twice, beside a write that superseded one copy
 * (not concurrent), or come back after a delete that covered one copy. A seed that drew failover and shows only these
 * is reported as todo with its details; any other kind fails, and with failover off (the default) every kind fails.
 * ORACLE_STRICT=1 excuses nothing.
 */
const AT_LEAST_ONCE = ['duplicate-value', 'not-concurrent', 'resurrected'];
const STRICT = process.env.ORACLE_STRICT === '1';

const seedsToRun = (): number[] => seedsFromEnv('RANDOM', CI_SEEDS);

const replay = (seed: number): string => `RANDOM_SEED=${seed} node --test dist/test/sim-random.test.js`;

describe('sim: randomized configurations and faults, judged by the independent oracle', () => {
  for (const seed of seedsToRun()) {
    test(`seed ${seed}`, async (t) => {
      const { violations, drawn, faults, refused } = await runSeed(seed, OVERRIDE);
      if (process.env.RANDOM_REPORT !== undefined) {
        const line = { seed, kinds: kindsOf(violations), config: describeDrawn(drawn), refused, first: violations.slice(0, 4) };
        appendFileSync(process.env.RANDOM_REPORT, JSON.stringify(line) + '\n');
      }
      if (process.env.RANDOM_SEED !== undefined) console.log(`config ${describeDrawn(drawn)}${refused ? `\nrefused: ${refused}` : ''}\nfaults:\n  ${faults.join('\n  ')}`);
      assert.equal(refused, undefined, `seed ${seed}: a valid drawn configuration was refused; replay: ${replay(seed)}`);
      const failover = (drawn.options.coordinatorFailoverMs ?? 0) > 0;
      if (!STRICT && failover && violations.length > 0 && violations.every((v) => AT_LEAST_ONCE.includes(v.kind))) {
        t.todo(`coordinator failover is at least once (coordinatorFailoverMs ${drawn.options.coordinatorFailoverMs}); ORACLE_STRICT=1 fails on it`);
      }
      if (violations.length > 0) {
        assert.fail(
          `seed ${seed}: ${kindsOf(violations).join(', ')}\nreplay: ${replay(seed)}\nconfig ${describeDrawn(drawn)}\n` +
            violations.slice(0, 8).map((v) => `  ${v.kind} ${v.key}: ${v.detail}`).join('\n') +
            `\nfaults (last 20):\n  ${faults.slice(-20).join('\n  ')}`,
        );
      }
    });
  }
});
