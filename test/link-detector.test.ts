// Per-link failure detection (actors/link-detector.ts): a peer is down for a sender once a request to it has gone
// unanswered for timeoutMs, up again as soon as anything arrives from it, and probed once per probeIntervalMs while
// down. Table-driven: each row is a script of events on one link and the expected answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidConfigError } from '../actors/errors.js';
import { LinkDetector, linkOptions, DEFAULT_LINK_OPTIONS } from '../actors/link-detector.js';

type Step =
  | ['sent', number]
  | ['heard', number]
  | ['down?', number, boolean]
  | ['probe?', number, boolean];

const PEER = 3;
const OPTIONS = { timeoutMs: 100, initialTimeoutMs: 100, probeIntervalMs: 250 };

const scripts: Array<[string, Step[]]> = [
  ['an unknown peer is up', [['down?', 0, false], ['down?', 10_000, false]]],
  ['a peer nobody waits on is up however long it is silent', [['sent', 0], ['heard', 5], ['down?', 10_000, false]]],
  ['a request unanswered just short of timeoutMs leaves it up', [['sent', 0], ['down?', 99, false]]],
  ['a request unanswered for timeoutMs makes it down', [['sent', 0], ['down?', 100, true]]],
  ['the oldest unanswered request counts, not the newest', [['sent', 0], ['sent', 90], ['down?', 100, true]]],
  ['an answer resets the wait', [['sent', 0], ['heard', 5], ['sent', 70], ['down?', 169, false], ['down?', 170, true]]],
  ['a down peer stays down while silent', [['sent', 0], ['down?', 100, true], ['down?', 5000, true]]],
  ['anything heard makes a down peer up', [['sent', 0], ['down?', 100, true], ['heard', 120], ['down?', 121, false]]],
  ['an up peer is never due a probe', [['sent', 0], ['probe?', 50, false]]],
  [
    'a down peer is probed at once, then once per probeIntervalMs',
    [['sent', 0], ['probe?', 100, true], ['probe?', 101, false], ['probe?', 349, false], ['probe?', 350, true]],
  ],
  [
    'a probe answered brings the peer back; a new silence is detected afresh',
    [['sent', 0], ['probe?', 100, true], ['heard', 102], ['down?', 103, false], ['sent', 110], ['down?', 209, false], ['down?', 210, true]],
  ],
];

describe('link detector', () => {
  for (const [name, steps] of scripts) {
    test(name, () => {
      const d = new LinkDetector(OPTIONS);
      for (const [i, step] of steps.entries()) {
        if (step[0] === 'sent') d.sent(PEER, step[1]);
        else if (step[0] === 'heard') d.heard(PEER, step[1]);
        else if (step[0] === 'down?') assert.equal(d.isDown(PEER, step[1]), step[2], `step ${i}: down? at ${step[1]}`);
        else assert.equal(d.probeDue(PEER, step[1]), step[2], `step ${i}: probe? at ${step[1]}`);
      }
    });
  }

  test('a down verdict is confirmed once the peer has been silent for one and a half times its timeout', () => {
    const d = new LinkDetector(OPTIONS);
    d.sent(PEER, 0);
    assert.deepEqual([d.isDown(PEER, 100), d.confirmedDown(PEER, 100)], [true, false]);
    assert.equal(d.confirmedDown(PEER, 149), false);
    assert.equal(d.confirmedDown(PEER, 150), true);
    d.heard(PEER, 250);
    assert.equal(d.confirmedDown(PEER, 1000), false, 'an answer ends it');
  });

  test('links are independent: one silent peer does not make another down', () => {
    const d = new LinkDetector(OPTIONS);
    d.sent(1, 0);
    d.sent(2, 0);
    d.heard(2, 5);
    assert.deepEqual(d.downPeers(100), [1]);
    assert.equal(d.waiting(1), true);
    assert.equal(d.waiting(2), false);
  });

  test('client addresses are not tracked (the detector is bounded by the replica address space)', () => {
    const d = new LinkDetector(OPTIONS);
    d.sent(1 << 16, 0);
    assert.equal(d.isDown(1 << 16, 1000), false);
    assert.deepEqual(d.downPeers(1000), []);
  });

  const bad: Array<[object, RegExp]> = [
    [{ timeoutMs: 0 }, /links.timeoutMs must be a number from 1 to 3600000 \(ms\); got 0/],
    [{ timeoutMs: NaN }, /got NaN/],
    [{ probeIntervalMs: -1 }, /links.probeIntervalMs must be a number from 1 to 3600000 \(ms\); got -1/],
    [{ probeIntervalMs: 'x' }, /got x/],
  ];
  for (const [input, message] of bad) {
    test(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(() => linkOptions(input as object), (e: unknown) => e instanceof InvalidConfigError && message.test(e.message));
    });
  }

  test('the timeout is learnt per link: round trip plus four deviations, at least timeoutMs, initialTimeoutMs before any', () => {
    const d = new LinkDetector({ timeoutMs: 10, initialTimeoutMs: 1000, probeIntervalMs: 250 });
    assert.equal(d.timeoutOf(1), 1000, 'nothing learnt yet');
    d.sent(1, 0);
    d.heard(1, 200); // a slow link: 200 ms round trips
    assert.equal(d.timeoutOf(1), 200 + 4 * 100);
    for (let t = 1000; t < 10_000; t += 1000) {
      d.sent(1, t);
      d.heard(1, t + 200);
    }
    const steady = d.timeoutOf(1);
    assert.ok(steady > 200 && steady < 300, `a steady 200 ms link times out just above 200 ms, got ${steady}`);
    d.sent(1, 20_000);
    assert.equal(d.isDown(1, 20_000 + 200), false, 'a round trip as usual');
    assert.equal(d.isDown(1, 20_000 + Math.ceil(steady)), true);
    d.heard(1, 25_000);
    assert.equal(d.timeoutOf(1), steady, 'the round trip of a link that was down is not learnt');
    d.sent(2, 0);
    d.heard(2, 1);
    assert.equal(d.timeoutOf(2), 10, 'a fast link: the floor');
  });

  test('defaults', () => {
    assert.deepEqual(linkOptions(), { ...DEFAULT_LINK_OPTIONS });
  });
});
