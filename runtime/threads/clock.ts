// The thread runtime's clock: wall-clock milliseconds with sub-millisecond resolution, comparable across worker
// threads (each thread's timeOrigin is its own start, so timeOrigin + now() is wall time). Only runtime/ reads it;
// actors get time passed in.
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
