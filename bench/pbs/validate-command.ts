// `leaderless pbs --validate`: the options of the validation (bench/pbs/validate.ts) read from the pbs command line.
// Only the options the user gave count: the pbs defaults (--trials 4000, every profile) are the models', not these.
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../runtime/index.js';
import { parseGrid, parseInteger, parseRwList } from './options.js';
import { MAX_VALIDATE_SIM_TRIALS, MAX_VALIDATE_TRIALS, VALIDATE_DEFAULTS, runValidate, type ValidateOptions, type ValidateReport } from './validate.js';

/** The command-line options --validate reads, as given (strings); anything else given is refused. */
export interface ValidateCliOptions {
  rw?: string;
  trials?: string;
  simTrials?: string;
  meanMs?: string;
  seed?: string;
  t?: string;
  json?: string;
}

const VALIDATE_KEYS = new Set(['validate', 'rw', 'trials', 'simTrials', 'meanMs', 'seed', 't', 'json']);
const NOT_FOR_PBS = new Set(['simTrials', 'meanMs']);

/** Throws unless the options given fit: --validate's own only with --validate, pbs's model options not with it. */
export function checkValidateFlags(given: Record<string, unknown>): void {
  const validate = given.validate === true;
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined || k === 'validate') continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (validate && !VALIDATE_KEYS.has(k)) {
      throw new InvalidArgumentError(`${flag} does not apply to --validate; it takes --rw, --trials, --sim-trials, --mean-ms, --seed, --t, --json`);
    }
    if (!validate && NOT_FOR_PBS.has(k)) throw new InvalidArgumentError(`${flag} applies only with --validate`);
  }
}

export function parseValidateOptions(o: ValidateCliOptions): ValidateOptions {
  const meanMs = o.meanMs === undefined ? VALIDATE_DEFAULTS.meanMs : Number(o.meanMs);
  if (!(meanMs >= 0.1 && meanMs <= 1000)) throw new InvalidArgumentError(`--mean-ms must be a number of ms from 0.1 to 1000; got ${String(o.meanMs)}`);
  return {
    ...VALIDATE_DEFAULTS,
    configs: o.rw === undefined ? VALIDATE_DEFAULTS.configs.map((c) => ({ ...c })) : parseRwList(o.rw),
    trials: o.trials === undefined ? VALIDATE_DEFAULTS.trials : parseInteger(o.trials, '--trials', MAX_VALIDATE_TRIALS),
    simTrials: o.simTrials === undefined ? VALIDATE_DEFAULTS.simTrials : parseInteger(o.simTrials, '--sim-trials', MAX_VALIDATE_SIM_TRIALS),
    meanMs,
    seed: o.seed === undefined ? VALIDATE_DEFAULTS.seed : parseInteger(o.seed, '--seed', 0xffffffff, 0),
    tMs: o.t === undefined ? [...VALIDATE_DEFAULTS.tMs] : parseGrid(o.t),
  };
}

/** Runs the validation: the table on `out` (or the JSON with --json -), the JSON in --json FILE. */
export async function validateCommand(o: ValidateCliOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, simOnly = false): Promise<ValidateReport> {
  const options = { ...parseValidateOptions(o), simOnly };
  const report = await runValidate(options, out, o.json === '-');
  if (o.json !== undefined && o.json !== '-') {
    writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    err.write(`wrote ${o.json}\n`);
  }
  return report;
}
