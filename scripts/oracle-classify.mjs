#!/usr/bin/env node
// Classifies the oracle's violations over many seeds of test/sim-random.test.ts by the finding of issue 15 they show.
// Reads the JSON lines RANDOM_REPORT wrote, then replays each seed whose violations need it with one mechanism
// switched off (a drawn option replaced) and sees which switch makes the violation kind disappear:
//   Q  readFanout 'quorum'                            finding 1 (stand-ins answering reads)
//   H  long hint TTL and window, long grace, no AE   findings 3/4 (hint ages, expiring hints)
//   F  coordinatorFailoverMs 1 h (failover off for the run) gap "one write, one value" (failover duplicates)
//   S  sloppy false                                   findings 1/2 (stand-ins, fallback copies)
//   and combinations of them, tried in the order ORDER gives per kind.
// A vanishing kind is evidence, not proof: the replay with a switch changed is a different run.
// Usage: npm run build && RANDOM_SEEDS=2000 RANDOM_REPORT=/tmp/r.jsonl node --test dist/test/sim-random.test.js;
//        node scripts/oracle-classify.mjs /tmp/r.jsonl > classification.json
import { readFileSync } from 'node:fs';
import { runSeed } from '../dist/test/helpers/sim-random-run.js';

const H = {
  hints: { hintTtlMs: 10_800_000, maxHintWindowMs: 10_800_000, maxHintsPerOwner: 100_000 },
  antiEntropy: { tombstoneGraceMs: 10_800_000, intervalMs: 0 },
};
const SWITCHES = {
  Q: { readFanout: 'quorum' },
  H,
  F: { coordinatorFailoverMs: 3_600_000 },
  S: { sloppy: false },
  FS: { coordinatorFailoverMs: 3_600_000, sloppy: false },
  FSQ: { coordinatorFailoverMs: 3_600_000, sloppy: false, readFanout: 'quorum' },
  FSQH: { coordinatorFailoverMs: 3_600_000, sloppy: false, readFanout: 'quorum', ...H },
};
const LABEL = {
  Q: '#1', H: '#3/#4', F: 'gap:one-write-one-value', S: '#1/#2 (sloppy)', FS: 'gap:one-write-one-value+#2 (failover and sloppy)',
  FSQ: 'several (#1 + failover + sloppy)', FSQH: 'several (#1 + failover + sloppy + hint ages)',
};
/** The order switches are tried in, per kind: the likeliest cause first. */
const ORDER = {
  'duplicate-value': ['F', 'FS', 'FSQ', 'FSQH'],
  'not-concurrent': ['F', 'FS', 'Q', 'H', 'FSQ', 'FSQH'],
  'lost-write': ['Q', 'H', 'F', 'S', 'FSQ', 'FSQH'],
  // H also turns periodic anti-entropy off, which hides failover duplicates from the final read: F goes first
  resurrected: ['F', 'Q', 'H', 'S', 'FSQ', 'FSQH'],
  'not-converged': ['Q', 'F', 'H', 'S', 'FSQ', 'FSQH'],
};
/** Kinds whose cause needs a replay; the others map directly. */
const ABLATE = new Set(Object.keys(ORDER));

function direct(v) {
  if (v.kind === 'late' || v.kind === 'unsettled') return /^(put|delete)/.test(v.detail) ? '#11' : 'NEW:late-read-or-control';
  if (v.kind === 'stray-copy') return '#2';
  if (v.kind === 'stale-quorum-read') return '#1';
  if (v.kind === 'refused-value') return 'gap:refused-write-leaves-value';
  if (v.kind === 'final-read-failed' && /StoreFull|STORE_FULL/.test(v.detail)) return '#7';
  return undefined;
}

const runs = new Map();
async function replay(seed, name) {
  const k = `${seed}:${name}`;
  if (!runs.has(k)) runs.set(k, (await runSeed(seed, SWITCHES[name])).violations.map((v) => v.kind));
  return runs.get(k);
}

const lines = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const bySeed = new Map();
for (const d of lines) {
  const kinds = d.kinds.map((k) => k.split(' ')[0]);
  const labels = new Set();
  for (const v of d.first) {
    const l = direct(v);
    if (l !== undefined) labels.add(`${v.kind}=${l}`);
  }
  for (const k of kinds) if (!ABLATE.has(k) && ![...labels].some((l) => l.startsWith(`${k}=`))) labels.add(`${k}=${direct({ kind: k, detail: 'put' }) ?? 'UNCLASSIFIED'}`);
  const hard = kinds.filter((k) => ABLATE.has(k));
  for (const k of hard) {
    let label = 'UNEXPLAINED';
    for (const name of ORDER[k]) {
      if (!(await replay(d.seed, name)).includes(k)) {
        label = LABEL[name];
        break;
      }
    }
    labels.add(`${k}=${label}`);
  }
  bySeed.set(d.seed, [...labels]);
}
const byLabel = {};
for (const [seed, labels] of bySeed) for (const l of labels) (byLabel[l] ??= []).push(seed);
console.log(JSON.stringify({ seeds: lines.length, failing: [...bySeed.values()].filter((l) => l.length > 0).length, byLabel }, null, 1));
