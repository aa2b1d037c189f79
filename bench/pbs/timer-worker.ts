// A worker thread that measures how late its own timers fire, for the validation's calibration (bench/pbs/validate.ts).
// The thread runtime holds a delayed message with a timer in the thread that sends it: a client's put or get on the
// main thread, which carries every client and is busy, a replica's replicate or ack in that replica's worker, whose
// event loop is mostly idle. The two fire differently (measured: main +0.28 ms late on average, a worker +0.01 ms,
// the main thread's tail much longer), so the calibration times both. Started by measureWorkerTimerLateness
// (empirical.ts) with workerData = { meanMs, seed, count, loops }; posts back the lateness samples, ms.
//
// Each timer is set at a random phase of the millisecond, as a replica sets one when a message happens to arrive: Node
// starts a timer from the event loop's cached time, on an integer-ms clock, so one set at once when the last fired
// (phase-locked to the ms boundary it fired on) fires later than one set at a random moment (measured on an idle
// thread: -0.06 ms mean lateness phase-locked, -0.19 at a random phase). The thread sleeps (Atomics.wait, no spinning)
// a uniform 0-1 ms before each timer: the loop's cached time is then as stale as a replica's after a message arrived.
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
const phase = new Prng((d.seed ^ 0x51ed270b) >>> 0);
const cell = new Int32Array(new SharedArrayBuffer(4));
const randomPhase = (): void => void Atomics.wait(cell, 0, 0, phase.float());
const samples = await measureTimerLateness(exponentialDraw(new Prng(d.seed), d.meanMs), d.count, d.loops, randomPhase);
parentPort!.postMessage(samples);
