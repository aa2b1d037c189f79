// The reports live in bench/report/ (see bench/report/index.ts); this file keeps the old import path working.
export * from './report/index.js';
