// The compiled `leaderless` command, run as a child process: bad input gets one clear line on stderr and exit code 2;
// short real runs of bench and sweep print their tables, show progress on stderr and write JSON and HTML.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bench/cli.js', import.meta.url));

function run(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bad input: one clear line, exit code 2', { concurrency: true }, () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['bench', '--bogus'], /unknown option '--bogus'/],
    ['R > N', ['bench', '--n', '3', '--r', '4'], /r=4 exceeds the replication factor N=3/i],
    ['W > N by level name', ['bench', '--n', '2', '--w', 'THREE'], /THREE needs 3 acks but the replication factor is N=2/],
    ['N > nodes', ['bench', '--nodes', '2', '--n', '3'], /3/],
    ['a fault naming a node that does not exist', ['bench', '--fault', 'kill:9@1s'], /kill:9@1s.*node 9 does not exist: the cluster has nodes 0 to 4/],
    ['a malformed schedule', ['bench', '--fault', 'partition:0,1/2@later'], /malformed time "later"/],
    ['a fault after the run ends', ['bench', '--duration', '1', '--fault', 'kill:1@3s'], /after the run ends/],
    ['a bad number', ['bench', '--keys', 'many'], /--keys must be an integer/],
    ['workload E', ['bench', '--workload', 'E'], /E \(short range scans\) is left out/],
    ['a mix that does not add up', ['bench', '--mix', 'read=0.5'], /sum to 0.5/],
    ['both --duration and --ops', ['bench', '--duration', '1', '--ops', '10'], /--duration or --ops, not both/],
    ['a sweep pair with R > N', ['sweep', '--rw', '1/1,4/1'], /r=4 exceeds/i],
    ['a malformed sweep pair', ['sweep', '--rw', '1-1'], /write R\/W/],
    ['an unknown command', ['bnech'], /unknown command 'bnech' \(Did you mean bench\?\)/],
    ['a duration without a known unit', ['bench', '--duration', '3x'], /--duration "3x" is not a duration; write a number with a unit, ms, s or m \(e\.g\. 500ms, 3s, 1\.5s, 2m\); a plain number is seconds/],
    ['a duration too short', ['sim', '--duration', '10ms'], /--duration must be from 50ms/],
    ['a fault time without a known unit', ['bench', '--fault', 'kill:1@2h'], /malformed time "2h"; write a number with a unit, ms, s or m/],
    ['a --json path in a folder that does not exist', ['bench', '--duration', '1s', '--json', '/nonexistent-leaderless/out.json'], /--json \/nonexistent-leaderless\/out\.json: the folder \/nonexistent-leaderless does not exist/],
    ['an --html path that is a folder', ['sweep', '--html', '/tmp'], /--html \/tmp: is a folder/],
    ['--consistency beside --r', ['bench', '--consistency', 'ONE', '--r', 'ONE'], /--consistency or --r\/--w, not both/],
    ['--nodes beside --datacenters', ['bench', '--nodes', '6', '--datacenters', 'a:3,b:3'], /--nodes or --datacenters, not both/],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
      assert.match(lines[0], message);
    });
  }
});

test('a busy --metrics-port is refused before the run: one line, exit code 2', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await run(['bench', '--duration', '1s', '--keys', '100', '--metrics-port', String(port)]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
    assert.match(lines[0], new RegExp(`--metrics-port ${port}: the port is in use`));
  } finally {
    server.close();
  }
});

describe('help and version', { concurrency: true }, () => {
  test('help writes every default one way, in commander\'s style', async () => {
    for (const command of ['bench', 'sim', 'sweep']) {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0);
      assert.doesNotMatch(r.stdout, /\(default\s+[^:\s]|\(default\)/, `${command}: a default written by hand`);
      assert.match(r.stdout, /--nodes <n> .*\(default: 5\)/);
      assert.match(r.stdout, /--duration <time>[^]*?\(default:\s+[25]s\)/);
    }
  });
  test('sim --help says what the simulator is', async () => {
    const r = await run(['sim', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /discrete-event simulation/);
    assert.match(r.stdout, /virtual time/);
    assert.match(r.stdout, /same protocol code as bench/);
  });
  test('--help exits 0 and mentions what was left out', async () => {
    const r = await run(['bench', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /E, short scans, is left out/);
    assert.match(r.stdout, /--fault <spec>/);
  });
  test('--version exits 0', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe('short real runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leaderless-cli-'));

  test('bench prints the table, shows progress, writes JSON and HTML, serves metrics', async () => {
    const json = join(dir, 'bench.json');
    const html = join(dir, 'bench.html');
    const r = await run(['bench', '--duration', '0.5', '--keys', '300', '--in-flight', '8', '--json', json, '--html', html, '--metrics-port', '0', '--fault', 'partition:0/1,2,3,4@100ms-300ms']);
    assert.equal(r.code, 0, r.stderr);
    for (const s of ['leaderless bench', 'stale reads', 'lost writes', 'p99 us']) assert.ok(r.stdout.includes(s), s);
    assert.match(r.stderr, /run +\[[#.]+\]/);
    assert.match(r.stderr, /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.schema, 'leaderless-bench/1');
    assert.equal(report.config.seed, 1);
    assert.deepEqual(report.config.faults, ['partition:0/1,2,3,4@100ms-300ms']);
    assert.equal(report.faults.length, 1);
    assert.ok(report.ops.all.count > 0 && report.ops.read.latencyUs.p50 > 0);
    assert.ok(report.consistency.judgedReads > 0);
    assert.equal(report.verify.keys, 300);
    assert.match(readFileSync(html, 'utf8'), /data-chart="throughput"/);
  });

  test('durations take units; sim says what it is; outside a terminal each phase prints its completion', async () => {
    const json = join(dir, 'sim.json');
    const r = await run(['sim', '--duration', '300ms', '--keys', '200', '--in-flight', '4', '--json', json, '--fault', 'kill:1@0.002m']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^leaderless sim: a deterministic simulation \(virtual time, seeded network, latency lan, seed 1\)/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.config.durationMs, 300);
    assert.equal(report.faults[0].startMs, 120);
    for (const phase of ['load', 'run', 'settle', 'verify']) assert.match(r.stderr, new RegExp(`^${phase} +done `, 'm'), r.stderr);
  });

  test('sim: a node joins and another leaves during the run; nothing is lost and the report says what moved', async () => {
    const json = join(dir, 'membership.json');
    const html = join(dir, 'membership.html');
    const r = await run(['sim', '--duration', '400ms', '--keys', '300', '--in-flight', '8', '--json', json, '--html', html, '--fault', 'join@100ms', '--fault', 'leave:0@200ms']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.consistency.lostWrites.lost, 0);
    assert.equal(report.verify.levels.ALL, 300);
    const [joined, left] = report.membership;
    assert.deepEqual([joined.kind, joined.epoch, joined.node, left.kind, left.epoch, left.node], ['join', 2, 5, 'leave', 3, 0]);
    assert.ok(joined.keysMoved > 0 && joined.bytesMoved > 0 && left.keysMoved > 0, JSON.stringify(report.membership));
    assert.ok(joined.opsPerSecDuring > 0 && joined.opsPerSecBefore > 0);
    assert.match(r.stdout, /^membership changes\n  join@100ms: epoch 2, node 5, /m);
    assert.match(readFileSync(html, 'utf8'), /<h2>Membership changes<\/h2>.*join@100ms.*leave:0@200ms/s);
  });

  test('lww with one writer at a time loses nothing, and says what LWW dropped', async () => {
    const json = join(dir, 'lww.json');
    const r = await run(['bench', '--conflicts', 'lww', '--in-flight', '1', '--update-context', 'none', '--duration', '500ms', '--keys', '50', '--no-progress', '--json', json]);
    assert.equal(r.code, 0, r.stderr);
    const lw = JSON.parse(readFileSync(json, 'utf8')).consistency.lostWrites;
    assert.ok(lw.superseded > 0, JSON.stringify(lw));
    assert.equal(lw.lost, 0);
    assert.equal(lw.droppedByLww, 0);
    assert.match(r.stdout, /^note: dropped by LWW: 0 acknowledged writes/m);
  });

  test('sweep runs each configuration and prints them side by side', async () => {
    const json = join(dir, 'sweep.json');
    const r = await run(['sweep', '--rw', '1/1,2/2', '--duration', '0.3', '--keys', '200', '--in-flight', '8', '--no-progress', '--json', json]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^R=1 W=1 /m);
    assert.match(r.stdout, /^R=2 W=2 /m);
    assert.equal(r.stderr.includes('['), false, 'no progress bar with --no-progress');
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.schema, 'leaderless-sweep/1');
    assert.deepEqual(
      report.runs.map((x: { label: string; config: { seed: number } }) => [x.label, x.config.seed]),
      [
        ['R=1 W=1', 1],
        ['R=2 W=2', 1],
      ],
    );
  });

  test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
});
