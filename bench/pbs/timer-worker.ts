// A worker thread that measures how late its own timers fire, for the validation's calibration (bench/pbs/validate.ts).
// The thread runtime holds a delayed message with a timer in the thread that sends it: a client's put or get on the
// main thread, which carries every client and is busy, a replica's replicate or ack in that replica's worker, whose
// event loop is mostly idle. The two fire differently (measured: main +0.28 ms late on average, a worker +0.01 ms,
// the main thread's tail much longer), so the calibration times both. Started by measureWorkerTimerLateness
// (empirical.ts) with workerData = { meanMs, seed, count, loops }; posts back the lateness samples, ms.
import { parentPort, workerData } from 'node:worker_threads';
import { Prng } from '../../runtime/index.js';
import { exponentialDraw, measureTimerLateness } from './empirical.js';

interface TimerWorkerData {
  meanMs: number;
  seed: number;
  count: number;
  loops: number;
}

const d = workerData as TimerWorkerData;
const samples = await measureTimerLateness(exponentialDraw(new Prng(d.seed), d.meanMs), d.count, d.loops);
parentPort!.postMessage(samples);
