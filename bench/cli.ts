#!/usr/bin/env node
// The `leaderless` command. commander parses the command line (a well-kept library for what it does well); bad input
// gets one clear line on stderr and exit code 2.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError as CliArgError, Option } from 'commander';
import { LeaderlessError } from '../actors/errors.js';
import { runQuickBench, type QuickBenchOptions } from './quick.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CliArgError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export function program(): Command {
  const cmd = new Command('leaderless')
    .description('A Dynamo-style leaderless replicated key-value store: embed it, benchmark it, load-test quorums under faults.')
    .version(pkg.version, '-v, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('bench')
    .description('run a workload against an embedded cluster and print throughput, latency and consistency figures')
    .addOption(new Option('--nodes <n>', 'replica actors (worker threads)').default(5).argParser(int('--nodes', 1, 256)))
    .addOption(new Option('--n <n>', 'replication factor N').default(3).argParser(int('--n', 1, 256)))
    .addOption(new Option('--r <level>', 'read consistency: a level (ONE, QUORUM, ALL, ...) or a number').default('QUORUM'))
    .addOption(new Option('--w <level>', 'write consistency: a level or a number').default('QUORUM'))
    .addOption(new Option('--conflicts <mode>', 'siblings or lww').choices(['siblings', 'lww']).default('siblings'))
    .addOption(new Option('--keys <n>', 'distinct keys').default(10_000).argParser(int('--keys', 1, 100_000_000)))
    .addOption(new Option('--value-size <bytes>', 'bytes per value').default(100).argParser(int('--value-size', 0, 1 << 20)))
    .addOption(new Option('--read-ratio <0..1>', 'share of operations that are reads').default(0.5).argParser(ratio))
    .addOption(new Option('--in-flight <n>', 'operations in flight').default(256).argParser(int('--in-flight', 1, 65536)))
    .addOption(new Option('--duration <s>', 'seconds to run').default(5).argParser(num('--duration', 0.1, 86_400)))
    .addOption(new Option('--seed <n>', 'seed of the workload').default(1).argParser(int('--seed', 0, 2 ** 31 - 1)))
    .action(async (o: QuickBenchOptions) => {
      await runQuickBench(o, process.stdout);
    });

  return cmd;
}

function ratio(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new CliArgError('must be a number from 0 to 1');
  return n;
}

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new CliArgError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

export async function main(argv: string[]): Promise<number> {
  const cmd = program();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander has already printed its one line for anything else
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof LeaderlessError) {
      process.stderr.write(`leaderless: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
