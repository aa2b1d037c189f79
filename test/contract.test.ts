// The API's contract at its edges (issue 15, "smaller contract gaps"): strings UTF-8 cannot carry are refused, bad
// options of every call get a typed error naming what is allowed (in both runtimes), and a put's result describes
// its context the way a read would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cluster, LeaderlessError, SimCluster } from '../runtime/index.js';
import { isWellFormed, loneSurrogateAt, wellFormedUtf8Length } from '../actors/hash.js';
import { rejectsWith } from './helpers/errors.js';
import { fcParams } from './helpers/fc.js';

type AnyCluster = Cluster | SimCluster;
type Call = (c: AnyCluster) => unknown;

/** Like rejectsWith, for a call that may throw before it returns a promise. */
function refuses(f: () => unknown, code: string, pattern?: RegExp): Promise<LeaderlessError> {
  return rejectsWith(Promise.resolve().then(f), code, pattern);
}

/** Cluster.start must refuse these options; a cluster it starts anyway is stopped and the test fails. */
async function startRefused(options: unknown, code: string, pattern: RegExp): Promise<void> {
  const started = Promise.resolve().then(() => Cluster.start(options as never));
  const outcome = await started.then(
    async (c: AnyCluster) => {
      await c.stop();
      return 'started';
    },
    () => 'refused',
  );
  assert.equal(outcome, 'refused', `Cluster.start(${JSON.stringify(options)}) started a cluster`);
  await rejectsWith(started, code, pattern);
}

const utf8RoundTrip = (s: string): string => new TextDecoder().decode(new TextEncoder().encode(s));

describe('well-formed strings', () => {
  test('isWellFormed, loneSurrogateAt and wellFormedUtf8Length agree with a UTF-8 round trip', () => {
    // units near and inside the surrogate range, so lone and paired surrogates are both common
    const unit = fc.oneof(
      fc.integer({ min: 0xd7fe, max: 0xe001 }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('a', 'é', '€', '\u{1F600}'),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), (s) => {
        const ok = utf8RoundTrip(s) === s;
        assert.equal(isWellFormed(s), ok);
        assert.equal(loneSurrogateAt(s) < 0, ok);
        assert.equal(wellFormedUtf8Length(s), ok ? Buffer.byteLength(s) : -1);
        if (!ok) assert.ok(utf8RoundTrip(s.slice(0, loneSurrogateAt(s))) === s.slice(0, loneSurrogateAt(s)));
      }),
      fcParams(2000),
    );
  });
  const cases: Array<[string, number]> = [
    ['', -1],
    ['abc', -1],
    ['a\uD800b', 1],
    ['a\uD800', 1],
    ['\uDC00a', 0],
    ['\uD83D\uDE00\uDE00', 2],
    ['x\uD83D\uDE00', -1],
  ];
  for (const [s, at] of cases) {
    test(`loneSurrogateAt(${JSON.stringify(s)}) is ${at}`, () => assert.equal(loneSurrogateAt(s), at));
  }
});

/** Calls every runtime must refuse, with the code and the words that say what is allowed. */
const refusedCalls: Array<[string, Call, string, RegExp]> = [
  ['put of a value with a lone surrogate', (c) => c.put('k', 'a\uD800b'), 'INVALID_ARGUMENT', /value .*lone surrogate at index 1/],
  ['put of a value ending in a high surrogate', (c) => c.put('k', 'ab\uD83D'), 'INVALID_ARGUMENT', /index 2/],
  ['put to a key with a lone surrogate', (c) => c.put('a\uD800', 'v'), 'INVALID_ARGUMENT', /key .*lone surrogate/],
  ['get of a key with a lone low surrogate', (c) => c.get('\uDC00a'), 'INVALID_ARGUMENT', /key .*index 0/],
  ['delete of a key with a lone surrogate', (c) => c.delete('x\uDBFF'), 'INVALID_ARGUMENT', /key .*index 1/],
  ['inspect of a key with a lone surrogate', (c) => c.inspect(0, 'a\uD800'), 'INVALID_ARGUMENT', /key .*lone surrogate/],
  ["get with r: '2' (a string)", (c) => c.get('k', { r: '2' as never }), 'INVALID_ARGUMENT', /r must be a number/],
  ['get with r: null', (c) => c.get('k', { r: null as never }), 'INVALID_ARGUMENT', /r must be a number/],
  ["get with consistency '2.0'", (c) => c.get('k', { consistency: '2.0' as never }), 'INVALID_CONFIG', /r=2\.0 .*positive integer/],
  ["get with consistency '+2'", (c) => c.get('k', { consistency: '+2' as never }), 'INVALID_CONFIG', /r=\+2 .*without sign/],
  ["get with consistency '02'", (c) => c.get('k', { consistency: '02' as never }), 'INVALID_CONFIG', /leading zero/],
  ['get with options as an array', (c) => c.get('k', [] as never), 'INVALID_ARGUMENT', /get options must be an object; got an array/],
  ["put with w: '2'", (c) => c.put('k', 'v', { w: '2' as never }), 'INVALID_ARGUMENT', /w must be a number/],
  ["put with consistency '1.0'", (c) => c.put('k', 'v', { consistency: '1.0' as never }), 'INVALID_CONFIG', /w=1\.0/],
  ["delete with w: '2'", (c) => c.delete('k', { w: '2' as never }), 'INVALID_ARGUMENT', /w must be a number/],
  ['delete with options as an array', (c) => c.delete('k', [] as never), 'INVALID_ARGUMENT', /delete options must be an object/],
  ['client(null)', (c) => c.client(null as never), 'INVALID_ARGUMENT', /client options must be an object; got null/],
  ['client(5)', (c) => c.client(5 as never), 'INVALID_ARGUMENT', /client options must be an object/],
  ['client with an unknown option', (c) => c.client({ nearr: 1 } as never), 'INVALID_ARGUMENT', /unknown client option nearr; allowed: near/],
  ['faults.crash with null options', (c) => c.faults.crash(0, null as never), 'INVALID_ARGUMENT', /crash options must be an object/],
  ['faults.crash with wipe: 1', (c) => c.faults.crash(0, { wipe: 1 as never }), 'INVALID_ARGUMENT', /wipe must be true or false/],
  ['faults.crash with an unknown option', (c) => c.faults.crash(0, { wype: true } as never), 'INVALID_ARGUMENT', /unknown crash option wype/],
  ['settle(-1)', (c) => c.settle(-1), 'INVALID_ARGUMENT', /settle takes .* from 0 to 3600000; got -1/],
  ["settle('x')", (c) => c.settle('x' as never), 'INVALID_ARGUMENT', /settle takes .*; got x/],
  ['settle(NaN)', (c) => c.settle(NaN), 'INVALID_ARGUMENT', /settle takes .*; got NaN/],
];

/** Options Cluster.start must refuse in every runtime (merged into the runtime's own). */
const refusedStarts: Array<[string, Record<string, unknown>, RegExp]> = [
  ["read '2.0'", { read: '2.0' }, /r=2\.0/],
  ["read '+2'", { read: '+2' }, /r=\+2/],
  ["write ' 02 '", { write: ' 02 ' }, /w=02/],
  ['antiEntropy: []', { antiEntropy: [] }, /antiEntropy must be an object of \{ segments, .*got an array/],
  ['hints: []', { hints: [] }, /hints must be an object/],
  ['failureDetector: []', { failureDetector: [] }, /failureDetector must be an object/],
  ['restart: []', { restart: [] }, /restart must be an object/],
  ['a datacenter with an unknown field', { nodes: undefined, datacenters: [{ name: 'a', nodes: 3, zone: 1 }] }, /unknown datacenter option zone; allowed: name, racks, nodes/],
  ["seed 'x'", { seed: 'x' }, /seed must be an integer from 0 to 4294967295/],
  ['seed -1', { seed: -1 }, /seed must be an integer/],
];

const runtimes: Array<['sim' | 'threads', Record<string, unknown>]> = [
  ['sim', { runtime: 'sim', seed: 7 }],
  ['threads', {}],
];

for (const [runtime, base] of runtimes) {
  describe(`bad input is refused with a typed error (${runtime})`, () => {
    for (const [name, options, pattern] of refusedStarts) {
      test(`Cluster.start with ${name}`, () => startRefused({ ...base, nodes: 3, ...options }, 'INVALID_CONFIG', pattern));
    }
    describe('calls on a running cluster', () => {
      let c: AnyCluster;
      before(async () => {
        c = (await Cluster.start({ ...base, nodes: 3 } as never)) as AnyCluster;
      });
      after(() => c.stop());
      for (const [name, call, code, pattern] of refusedCalls) test(name, () => refuses(() => call(c), code, pattern).then(() => undefined));
      test('the refusals left nothing behind and broke nothing: the cluster still reads and writes', async () => {
        // every put and delete of 'k' in the table was refused, so nothing of it was stored
        const before = await c.get('k', { consistency: 'ALL' });
        assert.deepEqual([before.found, before.values, before.deleted], [false, [], false]);
        await c.put('k', 'after');
        assert.deepEqual((await c.get('k', { consistency: 'ALL' })).values, ['after']);
      });
    });
    test('faults.heal() and faults.clear() after stop() are STOPPED', async () => {
      const c = (await Cluster.start({ ...base, nodes: 3 } as never)) as AnyCluster;
      await c.stop();
      await refuses(() => c.faults.heal(), 'STOPPED', /stopped/);
      await refuses(() => c.faults.clear(), 'STOPPED', /stopped/);
    });
    test('well-formed strings round-trip exactly: surrogate pairs in keys and values, bytes for anything else', async () => {
      const c = (await Cluster.start({ ...base, nodes: 3 } as never)) as AnyCluster;
      try {
        await c.put('emoji\u{1F600}', 'a\u{1F600}b\uFFFD', { consistency: 'ALL' });
        assert.deepEqual((await c.get('emoji\u{1F600}', { consistency: 'ALL' })).values, ['a\u{1F600}b\uFFFD']);
        await c.put('bytes', new Uint8Array([0xed, 0xa0, 0x80]), { consistency: 'ALL' });
        assert.deepEqual((await c.get('bytes', { consistency: 'ALL' })).values, [new Uint8Array([0xed, 0xa0, 0x80])]);
        // 'a\uFFFD' is a key of its own; 'a\uD800' (which UTF-8 would turn into it) is refused, not aliased
        await c.put('a\uFFFD', 'replacement', { consistency: 'ALL' });
        await refuses(() => c.get('a\uD800'), 'INVALID_ARGUMENT');
      } finally {
        await c.stop();
      }
    });
  });
}

describe('Cluster.start refuses what is not an options object', () => {
  const notObjects: Array<[string, unknown, RegExp]> = [
    ['null', null, /options object, e\.g\. \{ nodes: 5 \}; got null/],
    ['a number', 5, /got number 5/],
    ['a string', 'x', /got string x/],
    ['an array', [], /got an array/],
  ];
  for (const [name, options, pattern] of notObjects) {
    test(`Cluster.start(${name})`, () => startRefused(options, 'INVALID_CONFIG', pattern));
    test(`SimCluster.start(${name})`, async () => {
      await refuses(() => SimCluster.start(options as never), 'INVALID_CONFIG', pattern);
    });
  }
});

describe('the simulator: options and fault arguments', () => {
  const simStarts: Array<[string, Record<string, unknown>, RegExp]> = [
    ['dropProbability: 2', { dropProbability: 2 }, /dropProbability must be a number from 0 to 1; got 2/],
    ['duplicateProbability: -1', { duplicateProbability: -1 }, /duplicateProbability must be a number from 0 to 1/],
    ["duplicateTypes: 'put'", { duplicateTypes: 'put' }, /duplicateTypes must be an array/],
  ];
  for (const [name, options, pattern] of simStarts) {
    test(`a start option is INVALID_CONFIG: ${name}`, () => startRefused({ runtime: 'sim', ...options }, 'INVALID_CONFIG', pattern));
  }
  test('a fault argument is INVALID_ARGUMENT', async () => {
    const c = await Cluster.start({ runtime: 'sim', seed: 3, nodes: 3 });
    await refuses(() => c.faults.drop({ probability: 2 }), 'INVALID_ARGUMENT', /drop probability must be a number from 0 to 1; got 2/);
    await refuses(() => c.faults.delay({ to: 0, ms: -5 }), 'INVALID_ARGUMENT', /delay ms must be a number from 0 to 60000; got -5/);
    await refuses(() => c.faults.delay({ to: 0, ms: { kind: 'nope' } as never }), 'INVALID_ARGUMENT', /a distribution is/);
    await refuses(() => c.trace(5 as never), 'INVALID_ARGUMENT', /trace takes a function or null/);
    await c.stop();
  });
});

describe('the thread runtime: control-plane arguments', () => {
  test('Cluster.attach refuses what is not a handle', async () => {
    for (const h of [null, 5, {}, { address: 'x' }, []]) {
      await refuses(() => Cluster.attach(h as never), 'INVALID_ARGUMENT', /Cluster\.attach takes the handle cluster\.createHandle\(\) returned/);
    }
  });
  test('createHandle, health, on and waitFor refuse bad arguments', async () => {
    const c = await Cluster.start({ nodes: 3 });
    try {
      await refuses(() => c.createHandle(null as never), 'INVALID_ARGUMENT', /createHandle options must be an object/);
      await refuses(() => c.health(5 as never), 'INVALID_ARGUMENT', /health options must be an object/);
      await refuses(() => c.health({ maxAge: 1 } as never), 'INVALID_ARGUMENT', /unknown health option maxAge/);
      await refuses(() => c.waitFor('node-up', 'x' as never), 'INVALID_ARGUMENT', /node must be an integer from 0 to 2/);
      await refuses(() => c.waitFor('node-up', 0, -1), 'INVALID_ARGUMENT', /waitFor takes a timeout/);
      await refuses(() => c.waitFor('node-upp' as never, 0, 10), 'INVALID_ARGUMENT', /unknown cluster event node-upp; events: node-up, /);
      await refuses(() => c.on('node-donw' as never, () => undefined), 'INVALID_ARGUMENT', /unknown cluster event node-donw/);
      await refuses(() => c.on('node-down', null as never), 'INVALID_ARGUMENT', /listener function/);
    } finally {
      await c.stop();
    }
  });
});

describe('a put result describes its context as a read would', () => {
  // Scenario: a key is written and deleted with the read's context; a blind put then writes beside the tombstone.
  // Its context covers the tombstone too, but a tombstone is no value: the result, like a read, shows one value.
  test('a blind put after a delete: values [b], siblings false; a blind put beside a value: siblings true', async () => {
    const c = await Cluster.start({ runtime: 'sim', seed: 11, nodes: 3 });
    await c.put('k', 'a', { consistency: 'ALL' });
    const read = await c.get('k', { consistency: 'ALL' });
    await c.delete('k', { context: read.context, consistency: 'ALL' });
    const put = await c.put('k', 'b', { consistency: 'ALL' });
    assert.deepEqual(put.values, ['b']);
    assert.equal(put.siblings, false);
    const after = await c.get('k', { consistency: 'ALL' });
    assert.deepEqual(after.values, put.values);
    const sibling = await c.put('k', 'c', { consistency: 'ALL' });
    assert.deepEqual([...sibling.values].sort(), ['b', 'c']);
    assert.equal(sibling.siblings, true);
    await c.stop();
  });
  test('a delete beside a live value reports that value and no sibling', async () => {
    const c = await Cluster.start({ runtime: 'sim', seed: 12, nodes: 3 });
    await c.put('k', 'a', { consistency: 'ALL' });
    const del = await c.delete('k', { consistency: 'ALL' }); // blind: 'a' stays beside the tombstone
    assert.deepEqual(del.values, ['a']);
    assert.equal(del.siblings, false);
    assert.deepEqual((await c.get('k', { consistency: 'ALL' })).values, ['a']);
    await c.stop();
  });
});

// Fuzzing the option objects: whatever a caller passes, the answer is a result or a typed LeaderlessError, never a
// TypeError from deep inside (a null options object, an object without a prototype in an error message, a BigInt).
const START_KEYS = [
  'nodes', 'datacenters', 'replication', 'read', 'write', 'conflicts', 'vnodes', 'sloppy', 'readRepair', 'timeoutMs',
  'maxKeyBytes', 'maxValueBytes', 'mailboxCapacity', 'maxInFlight', 'storeMaxKeys', 'storeArenaBytes', 'localDc', 'hints',
  'hintAfterMs', 'coordinatorFailoverMs', 'readRetryMs', 'readFanout', 'sharedMemoryReads', 'failureDetector', 'restart',
  'antiEntropy', 'seed', 'localReads', 'maxQueuedEvents', 'latency', 'latencyByType', 'interDcLatency', 'dropProbability',
  'duplicateProbability', 'duplicateTypes',
];
const anyValue = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true }),
  fc.constantFrom(NaN, -1, 0, 1, 2, 3, '2', '2.0', 1.5, [], {}, null, undefined, Infinity, 'QUORUM', true, 'a\uD800'),
);
const anyOptions = fc.oneof(
  anyValue,
  fc.dictionary(fc.constantFrom('consistency', 'r', 'w', 'timeoutMs', 'readRepair', 'context', 'near', 'wipe', 'ms', 'from', 'to', 'probability'), anyValue, { maxKeys: 3 }),
);

/** Runs a call; anything thrown must be a LeaderlessError (its message names the call, for the counterexample). */
async function typedOrOk(name: string, call: () => unknown): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof LeaderlessError)) assert.fail(`${name} threw an untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

describe('fuzzed options get a result or a typed error', () => {
  test('Cluster.start (sim) with random values for known options', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...START_KEYS), anyValue, { maxKeys: 3 }), async (o) => {
        await typedOrOk('Cluster.start', async () => (await Cluster.start({ runtime: 'sim', ...o } as never)).stop());
      }),
      fcParams(1500),
    );
  });
  test('every call of a simulated cluster with random arguments', async () => {
    const c = await Cluster.start({ runtime: 'sim', nodes: 3, seed: 5 });
    const calls: Record<string, (a: never, b: never, o: never) => unknown> = {
      get: (a, _b, o) => c.get(a, o), put: (a, b, o) => c.put(a, b, o), delete: (a, _b, o) => c.delete(a, o),
      settle: (a) => c.settle(a), sleep: (a) => c.sleep(a), repair: (a) => c.repair(a), client: (a) => c.client(a),
      inspect: (a, b) => c.inspect(a, b), replicaId: (a) => c.replicaId(a), kill: (a, _b, o) => c.faults.kill(a, o),
      crash: (a, _b, o) => c.faults.crash(a, o), pause: (a) => c.faults.pause(a), resume: (a) => c.faults.resume(a),
      restart: (a) => c.faults.restart(a), partition: (a) => c.faults.partition(a), delay: (_a, _b, o) => c.faults.delay(o),
      drop: (_a, _b, o) => c.faults.drop(o),
    };
    const arg = fc.oneof(anyValue, fc.constantFrom('k', 'v', 0, 1, 2));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(calls)), arg, arg, anyOptions, async (name, a, b, o) => {
        await typedOrOk(name, () => calls[name](a as never, b as never, o as never));
        c.faults.clear();
      }),
      fcParams(3000),
    );
    await c.stop();
  });
  test('the thread runtime: data and fault calls with random arguments', async () => {
    const c = await Cluster.start({ nodes: 3, timeoutMs: 200 });
    try {
      const calls: Record<string, (a: never, b: never, o: never) => unknown> = {
        get: (a, _b, o) => c.get(a, o), put: (a, b, o) => c.put(a, b, o), delete: (a, _b, o) => c.delete(a, o),
        inspect: (a, b) => c.inspect(a, b), health: (_a, _b, o) => c.health(o), settle: (a) => (typeof a === 'number' ? undefined : c.settle(a)),
        // a handle made and never attached is left alone: only options that must be refused are tried here
        createHandle: (_a, _b, o) => (o !== null && typeof o === 'object' && !Array.isArray(o) ? undefined : c.createHandle(o)),
        partition: (a) => c.faults.partition(a), delay: (_a, _b, o) => c.faults.delay(o), drop: (_a, _b, o) => c.faults.drop(o),
      };
      const arg = fc.oneof(anyValue, fc.constantFrom('k', 'v', 0, 1, 2));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...Object.keys(calls)), arg, arg, anyOptions, async (name, a, b, o) => {
          await typedOrOk(name, () => calls[name](a as never, b as never, o as never));
          await c.faults.clear();
        }),
        fcParams(300),
      );
    } finally {
      await c.stop();
    }
  });
});
