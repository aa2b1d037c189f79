// A short nemesis run on real worker threads, judged by the same independent oracle as the simulator's randomized
// runs (test/helpers/kv-oracle.ts). Four clients, two of them beside replicas on either side of any partition, run
// read-modify-writes, blind puts, deletes and reads for about two seconds while a seeded schedule kills nodes
// (the supervisor restarts them), pauses and resumes, partitions, delays, drops and wipes one node (W = 2, so one
// wipe cannot lose an acknowledged write). Then every fault is cleared, the cluster settles, two anti-entropy
// rounds run, every node's store is inspected, every key is read at ALL, and a calm phase writes fresh keys at ALL
// and reads each back at QUORUM. The runtime is real time, so the interleaving differs between runs; the schedule
// and workload are seeded (THREAD_SEED=S replays the same schedule) and the seed is printed on failure.
// Control-plane calls (faults, settle, repair) are bounded here: one still pending after CONTROL_MS is a violation.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kindsOf, type Violation } from './helpers/kv-oracle.js';

const SEED = Number(process.env.THREAD_SEED ?? 7);
/** a run that has not ended by then hangs (it is killed, and that is a violation) */
const RUN_LIMIT_MS = 45_000;
const RUNNER = fileURLToPath(new URL('./helpers/thread-nemesis-run.js', import.meta.url));

interface Verdict {
  violations: Violation[];
  faults: string[];
  ops: number;
}

/** The run in a child process: a hang cannot keep the test runner waiting. */
function runInChild(seed: number): Promise<Verdict> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUNNER, String(seed)], { timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (err === null && line.startsWith('{')) return resolve(JSON.parse(line) as Verdict);
      const why = err?.killed ? `did not end within ${RUN_LIMIT_MS} ms and was killed` : `failed: ${err?.message ?? 'no verdict'}`;
      resolve({ violations: [{ kind: 'unsettled', key: '*', detail: `the run ${why}; stderr: ${stderr.slice(-500)}` }], faults: [], ops: 0 });
    });
  });
}


describe('threads: a seeded nemesis run judged by the independent oracle', () => {
  test(`seed ${SEED}`, { timeout: 60_000 }, async () => {
    const { violations, faults, ops } = await runInChild(SEED);
    console.log(`# thread nemesis seed ${SEED}: ${ops} operations, ${faults.length} faults, ${violations.length} violations`);
    if (violations.length > 0) {
      assert.fail(
        `seed ${SEED}: ${kindsOf(violations).join(', ')}\nreplay: THREAD_SEED=${SEED} node --test dist/test/thread-nemesis.test.js\n` +
          violations.slice(0, 8).map((v) => `  ${v.kind} ${v.key}: ${v.detail}`).join('\n') +
          `\nfaults: ${faults.join('; ')}`,
      );
    }
  });
});
