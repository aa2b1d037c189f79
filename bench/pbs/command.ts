// The `leaderless pbs` command: its options, the output files, and the run.
//
// Output as bench, sim and sweep write it: the table on stdout, `--json FILE` the whole report as JSON, `--html FILE`
// the page with the charts (bench/pbs/html.ts); `--json -` puts the JSON on stdout instead of the table. Both paths
// are checked before the run starts, so a mistyped directory costs a second, not the run. `--format json` (the old
// spelling of `--json -`) still works and says once on stderr that it is deprecated.
import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from '../../runtime/index.js';
import { pbsHtml } from './html.js';
import { parsePbsOptions, type PbsRawOptions } from './options.js';
import { runPbs } from './run.js';
import { checkValidateFlags, validateCommand } from './validate-command.js';

interface PbsCliOptions {
  profile?: string;
  rw?: string;
  trials?: string;
  modelTrials?: string;
  seed?: string;
  t?: string;
  format?: string;
  json?: string;
  html?: string;
  validate?: boolean;
  simTrials?: string;
  meanMs?: string;
  coordinator?: string;
}

/** Throws InvalidArgumentError unless `file` can be written (created in an existing, writable directory). */
export function checkWritable(file: string, flag: string): void {
  const path = resolve(file);
  const dir = dirname(path);
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${flag} ${file}: ${why}; give a path in an existing directory you can write to`);
  };
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) fail('is a directory');
    try {
      accessSync(path, constants.W_OK);
    } catch {
      fail('the file is not writable');
    }
    return;
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) fail(`the directory ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    fail(`the directory ${dir} is not writable`);
  }
}

export function addPbsCommand(cmd: Command): Command {
  return cmd
    .command('pbs')
    .description('probabilistically bounded staleness (Bailis et al., VLDB 2012) measured on the simulated cluster running the real protocol, beside the closed-form bound and WARS Monte Carlo models')
    .addOption(new Option('--profile <list>', 'comma list of lnkd-ssd, lnkd-disk, ymmr, wan, or all').default('all'))
    .addOption(new Option('--rw <list>', 'R/W pairs with N=3').default('1/1,1/2,2/1,2/2'))
    .addOption(new Option('--trials <n>', 'simulated trials per cell (up to 200000)').default('4000'))
    .addOption(new Option('--model-trials <n>', 'WARS Monte Carlo trials per cell, per model').default('100000'))
    .addOption(new Option('--seed <n>', 'seed').default('1'))
    .addOption(new Option('--t <list>', "comma list of t values in ms (default: each profile's own grid)"))
    .addOption(new Option('--json <file>', 'write the report as JSON (- for stdout, instead of the table)'))
    .addOption(new Option('--html <file>', 'write a standalone HTML report: P(consistent) against t per profile, measured beside the models'))
    .addOption(new Option('--format <format>', 'deprecated: --format json is --json -').choices(['table', 'json']))
    .addOption(new Option('--coordinator <where>', "who coordinates each write: replica (the key's first replica, as leaderless does: WARS-local) or any (a node that is none of its replicas, as in Cassandra: WARS)").default('replica'))
    .addOption(new Option('--validate', 'instead: the thread runtime with exponential delays injected beside the simulator with the same, t-visibility curves and their RMSE'))
    .addOption(new Option('--mean-ms <ms>', 'with --validate: the mean of the injected exponential delays (default 5)'))
    .addOption(new Option('--sim-trials <n>', 'with --validate: simulated trials per R/W (default 12000; --trials: thread trials, default 4000)'))
    .action(async (o: PbsCliOptions, command: Command) => {
      // with --validate, pbs's defaults are not its own: only what the user gave counts
      const given = Object.fromEntries(Object.entries(o).filter(([k]) => command.getOptionValueSource(k) !== 'default'));
      checkValidateFlags(given);
      if (o.validate === true) {
        if (given.json !== undefined && given.json !== '-') checkWritable(String(given.json), '--json');
        await validateCommand(given, process.stdout, process.stderr);
        return;
      }
      await pbsCommand(o, process.stdout, process.stderr);
    });
}

/** Runs `pbs` with command-line options; the table (or JSON) goes to `out`, notes to `err`. */
export async function pbsCommand(o: PbsCliOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
  if (o.format === 'json') err.write('leaderless: --format json is deprecated; use --json - (or --json FILE)\n');
  if (o.format === 'json' && o.json !== undefined && o.json !== '-') throw new InvalidArgumentError('give --json FILE or the deprecated --format json, not both');
  const jsonToStdout = o.json === '-' || o.format === 'json';
  if (o.json !== undefined && o.json !== '-') checkWritable(o.json, '--json');
  if (o.html !== undefined) checkWritable(o.html, '--html');
  const raw: PbsRawOptions = {
    profile: o.profile, rw: o.rw, trials: o.trials, modelTrials: o.modelTrials, seed: o.seed, format: jsonToStdout ? 'json' : 'table', coordinator: o.coordinator,
  };
  if (o.t !== undefined) raw.t = o.t;
  const options = parsePbsOptions(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as PbsRawOptions);
  const report = await runPbs(options, out);
  if (o.json !== undefined && o.json !== '-') {
    writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    err.write(`wrote ${o.json}\n`);
  }
  if (o.html !== undefined) {
    writeFileSync(o.html, pbsHtml(report));
    err.write(`wrote ${o.html}\n`);
  }
}
