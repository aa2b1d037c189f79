// `leaderless pbs` lives in bench/pbs/ (see bench/pbs/index.ts); this file keeps the old import path working.
export * from './pbs/index.js';
