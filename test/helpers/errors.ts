// Asserts that a promise rejects with a LeaderlessError of the given code (and message pattern); returns the error
// so a test can look at its details. Shared by the thread-runtime and simulator suites, which refuse the same calls.
import assert from 'node:assert/strict';
import { LeaderlessError } from '../../runtime/index.js';

export async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<LeaderlessError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LeaderlessError, `expected a LeaderlessError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** How a call ended: 'ok', or the code of the LeaderlessError it rejected with (anything else fails the test). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof LeaderlessError, String(e));
    return e.code;
  }
}
