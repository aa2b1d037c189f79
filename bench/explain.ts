// One-line notes that explain a run's figures where a correct result could be mistaken for a bug (or a number needs
// its definition beside it): how many operations outlasted the deadline, what last-write-wins dropped, and why
// workload A shows many siblings.
import type { ConsistencyReport } from './oracle.js';
import type { RunWindow } from './phases.js';
import type { BenchSpec } from './spec.js';

/** Above this share of reads with siblings, the output says where they come from. */
export const HIGH_SIBLING_RATE = 0.01;
/** Operations outlasting the deadline by less than this are not worth a note (they count the same either way). */
export const DRAIN_NOTE_MS = 100;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const plural = (n: number, one: string, many: string): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

export function explain(spec: BenchSpec, c: ConsistencyReport, inFlightAtDeadline: number, window: RunWindow): string[] {
  const notes: string[] = [];
  if (inFlightAtDeadline > 0 && window.drainMs >= DRAIN_NOTE_MS) {
    const was = inFlightAtDeadline === 1 ? 'operation was' : 'operations were';
    notes.push(
      `${inFlightAtDeadline.toLocaleString('en-US')} ${was} in flight at the deadline and finished ${Math.round(window.drainMs)} ms after it: ` +
        'they count in latency, availability and the consistency checks, not in throughput',
    );
  }
  const lw = c.lostWrites;
  if ((spec.cluster.conflicts ?? 'siblings') === 'lww' && lw.checked) {
    notes.push(
      `dropped by LWW: ${plural(lw.droppedByLww, 'acknowledged write', 'acknowledged writes')} lost the timestamp race to a concurrent write ` +
        `(siblings mode would keep both); ${lw.superseded.toLocaleString('en-US')} were superseded by writes that began after they were acknowledged`,
    );
  }
  const note = siblingNote(spec, c);
  if (note !== undefined) notes.push(note);
  return notes;
}

/** Why a siblings-mode run with concurrent updates of hot keys returns many siblings (and that it is correct). */
function siblingNote(spec: BenchSpec, c: ConsistencyReport): string | undefined {
  const mix = spec.workload.mix;
  if ((spec.cluster.conflicts ?? 'siblings') !== 'siblings' || c.conflicts.rate < HIGH_SIBLING_RATE) return undefined;
  if (mix.update + mix.rmw === 0) return undefined;
  const what = spec.workload.name === 'A' ? "workload A's concurrent blind updates" : 'concurrent updates';
  return (
    `siblings: ${pct(c.conflicts.rate)} of reads returned siblings, as expected from ${what} of ${spec.workload.distribution} hot keys ` +
    `with ${spec.inFlight} in flight: an update whose context missed a concurrent write keeps both (no write is lost); ` +
    '--in-flight 1, --distribution uniform or --conflicts lww (which drops one instead) give fewer'
  );
}
