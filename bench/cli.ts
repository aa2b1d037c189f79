#!/usr/bin/env node
// The `leaderless` command: `bench` (one configuration), `sim` (the same on the simulator), `sweep` (several
// configurations, side by side) and `pbs`. commander parses the command line (a well-kept library for what it does
// well); bad input gets one clear line on stderr and exit code 2, and nothing starts until every option, the quorum
// configuration, the fault schedule, the output paths and the metrics port have been checked.
//
// Data layout: commander's option object -> a BenchSpec (bench/cli-options.ts), checked with the cluster's own
// validation -> runBench / runSweep with the thread cluster as the factory (bench/cli-session.ts) -> report.ts.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { InvalidArgumentError, InvalidConfigError, LeaderlessError } from '../runtime/index.js';
import { addCommonOptions, addLevelOptions, baseSpec, clusterOptions, given, levels, usage, type BenchOptions, type CommonOptions } from './cli-options.js';
import { checkOutputs, session, writeOutputs } from './cli-session.js';
import { benchHtml, benchTable, sweepHtml, sweepTable, type SweepReport } from './report/index.js';
import { runBench } from './run.js';
import { parseConsistencyList, parseRw, runSweep, specsFor } from './sweep.js';
import { addPbsCommand } from './pbs/command.js';
import { addSimCommand } from './sim-command.js';
import { addServeCommand } from './serve-command.js';
import { addConnectOptions, connectFactory } from './connect.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface ConnectCli {
  connect?: string;
  cluster?: string;
}

interface SweepOptions extends CommonOptions {
  rw?: string;
  consistency: string;
}

export function program(): Command {
  const cmd = new Command('leaderless')
    .description('A Dynamo-style leaderless replicated key-value store: embed it, benchmark it, load-test quorums under faults.')
    .version(pkg.version, '-v, --version')
    .exitOverride()
    // commander puts "(Did you mean ...?)" on a line of its own: keep every error to one line
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(s.trimEnd().replace(/\n+/g, ' ') + '\n') });

  addConnectOptions(
    addLevelOptions(
      addCommonOptions(
        cmd.command('bench').description('run a workload against an embedded cluster (or one served over NATS: --connect) and print throughput, latency and what the configuration gave: stale reads, conflicts, lost writes'),
        5000,
      ),
    ),
  ).action(async (o: BenchOptions, command: Command) => {
    await bench(o, command);
  });

  addSimCommand(cmd);

  addPbsCommand(cmd); // bench/pbs/command.ts

  addServeCommand(cmd); // bench/serve-command.ts: replicas over NATS

  addCommonOptions(
    cmd.command('sweep').description('run the same workload, seed and faults against several quorum configurations and compare them'),
    2000,
  )
    .addOption(new Option('--rw <pairs>', 'R/W pairs, e.g. 1/1,2/2,1/3,3/1 (numbers or level names), instead of --consistency'))
    .addOption(new Option('--consistency <levels>', 'levels, each for both reads and writes').default('ONE,QUORUM,ALL'))
    .action(async (o: SweepOptions, command: Command) => {
      await sweep(o, command);
    });

  return cmd;
}

// ------------------------------------------------------------------------------------------------ commands

async function bench(o: BenchOptions & ConnectCli, command: Command): Promise<void> {
  const { read, write } = levels(o, command);
  const cluster = clusterOptions(o, command, read, write);
  // a connected client reads the served replicas by message: no store of theirs is in this process
  if (o.connect !== undefined) cluster.sharedMemoryReads = 'off';
  const spec = baseSpec(o, command, cluster);
  const factory = connectFactory(o, command);
  checkOutputs(o);
  const s = await session(o, factory);
  try {
    const report = await runBench(spec, s.deps);
    s.bar?.done();
    process.stdout.write(benchTable(report));
    writeOutputs(o, report, () => benchHtml(report));
  } finally {
    await s.close();
  }
}

async function sweep(o: SweepOptions, command: Command): Promise<void> {
  if (o.rw !== undefined && given(command, 'consistency')) throw usage('give --rw or --consistency, not both');
  const configs = o.rw !== undefined ? parseRw(o.rw) : parseConsistencyList(o.consistency);
  const base = baseSpec(o, command, clusterOptions(o, command, 'QUORUM', 'QUORUM'));
  const specs = specsFor(base, configs);
  checkOutputs(o);
  const s = await session(o);
  try {
    const runs = await runSweep(specs, s.deps, (spec, i) => {
      s.bar?.done();
      if (o.progress) process.stderr.write(`[${i + 1}/${specs.length}] ${spec.label}\n`);
    });
    s.bar?.done();
    process.stdout.write(sweepTable(runs));
    const report: SweepReport = { schema: 'leaderless-sweep/1', runs };
    writeOutputs(o, report, () => sweepHtml(runs));
  } finally {
    await s.close();
  }
}

// ------------------------------------------------------------------------------------------------ entry

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
    if (e instanceof InvalidConfigError || e instanceof InvalidArgumentError) {
      process.stderr.write(`leaderless: ${e.message}\n`);
      return 2;
    }
    if (e instanceof LeaderlessError) {
      process.stderr.write(`leaderless: ${e.code}: ${e.message}\n`);
      return 1;
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
