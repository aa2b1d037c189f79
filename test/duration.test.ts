// Durations on the command line: units ms, s and m; a plain number in the option's own unit; anything else refused
// with one line that says what is allowed. Fault windows use the same parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationMs } from '../bench/duration.js';
import { parseFault } from '../bench/faults.js';

test('durations take ms, s and m; a plain number is in the bare unit', () => {
  const cases: Array<[string, 'ms' | 's', number]> = [
    ['500ms', 's', 500],
    ['3s', 's', 3000],
    ['1.5s', 's', 1500],
    ['2m', 's', 120_000],
    ['.5s', 's', 500],
    ['3', 's', 3000],
    ['250', 'ms', 250],
    [' 4s ', 's', 4000],
  ];
  for (const [text, bare, ms] of cases) assert.equal(parseDurationMs(text, bare), ms, text);
});

test('a malformed duration is refused in one line saying what is allowed', () => {
  for (const text of ['3x', '', '-1s', '1e3', '3 s', 's', '2h', '1.2.3s']) {
    assert.throws(() => parseDurationMs(text, 's', '--duration'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_CONFIG');
      assert.equal(e.message, `--duration "${text}" is not a duration; write a number with a unit, ms, s or m (e.g. 500ms, 3s, 1.5s, 2m); a plain number is seconds`);
      return true;
    });
  }
});

test('fault windows and delays take the same units', () => {
  const k = parseFault('kill:1@0.5m');
  assert.equal(k.atMs, 30_000);
  const d = parseFault('delay:*:0.1s@500ms-1m');
  assert.deepEqual([d.atMs, d.endMs, d.kind === 'delay' ? d.delayMs : -1], [500, 60_000, 100]);
  assert.equal(parseFault('delay:*:50@1-2').kind === 'delay' && parseFault('delay:*:50@1-2').atMs, 1000);
  assert.throws(() => parseFault('kill:1@3x'), /kill:1@3x.*malformed time "3x"; write a number with a unit, ms, s or m/);
});
