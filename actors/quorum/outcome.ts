// A core's outcome: who counted, who failed, who is pending, and one sentence that explains it (numbers first, so a
// log line or an error explains itself).

import {
  FAILED,
  nodesIn,
  PENDING,
  tallyStatus,
  TIMED_OUT,
  UNCOUNTED,
  type CoreOutcome,
  type CoreStatus,
  type Tally,
} from './tally.js';

export function tallyOutcome(t: Tally): CoreOutcome {
  const status = tallyStatus(t);
  const outcome: CoreOutcome = {
    ok: status === 'ok',
    needed: t.req.total,
    acked: t.counted,
    ackedNodes: t.ackOrder.slice(),
    failedNodes: nodesIn(t, FAILED, TIMED_OUT),
    pendingNodes: nodesIn(t, PENDING),
    uncountedNodes: nodesIn(t, UNCOUNTED),
    timedOutNodes: nodesIn(t, TIMED_OUT),
    primaryOnly: t.countedFallbacks === 0,
    message: '',
  };
  outcome.message = status === 'ok' ? okMessage(t) : failMessage(t, outcome, status);
  return outcome;
}


const list = (nodes: number[]): string => (nodes.length === 0 ? 'none' : nodes.join(','));
const noun = (t: Tally): string => (t.op === 'write' ? 'acks' : 'replies');

function okMessage(t: Tally): string {
  const via = t.countedFallbacks > 0 ? ` (${t.countedFallbacks} from fallbacks)` : '';
  const got = `got ${t.counted} ${noun(t)} (${t.req.total} needed)`;
  return `${t.op} met ${t.req.level}: ${got} from nodes ${list(t.ackOrder)}${via}.`;
}

function failMessage(t: Tally, o: CoreOutcome, status: CoreStatus): string {
  const parts = [
    `${t.op} needed ${t.req.total} ${noun(t)} (${t.req.level}${dcNeeds(t)}), got ${t.counted}` +
      (t.counted > 0 ? ` from nodes ${list(o.ackedNodes)}` : ''),
    failedPart(nodesIn(t, FAILED)),
  ];
  if (o.timedOutNodes.length > 0) parts.push(`timed out waiting for nodes ${list(o.timedOutNodes)}`);
  else parts.push(`${o.pendingNodes.length} still pending`);
  if (o.uncountedNodes.length > 0) parts.push(uncountedPart(t, o.uncountedNodes));
  const short = dcShortfall(t);
  if (short !== '') parts.push(short);
  if (status === 'failed' && !t.timedOut) parts.push(impossibleWhy(t));
  return parts.join('; ') + '.';
}

function uncountedPart(t: Tally, nodes: number[]): string {
  if (t.op === 'write') return `fallbacks ${list(nodes)} acked but do not count (sloppy quorum is off)`;
  return (
    `replies from nodes ${list(nodes)} do not count: a stand-in's "not found" counts only with standInNotFoundOk, ` +
    `a fallback only with sloppy quorum, and one primary's seat once`
  );
}

function failedPart(failed: number[]): string {
  return failed.length === 0 ? 'no node failed' : `nodes ${list(failed)} failed`;
}

function dcNeeds(t: Tally): string {
  if (t.dcNames.length === 0) return '';
  return ': ' + t.dcNames.map((dc, s) => `${t.dcNeeded[s]} in ${dc}`).join(', ');
}

function dcShortfall(t: Tally): string {
  const short: string[] = [];
  for (let s = 0; s < t.dcNames.length; s++) {
    if (t.dcCounted[s] < t.dcNeeded[s]) short.push(`${t.dcNames[s]} has ${t.dcCounted[s]} of ${t.dcNeeded[s]}`);
  }
  return short.length === 0 ? '' : short.join(', ');
}

function impossibleWhy(t: Tally): string {
  const countable = t.countable.filter((c) => c).length;
  const strict = t.nodes.length - countable;
  const why = strict > 0 && !t.sloppy && !t.req.hintsCount ? ` (${strict} fallback targets cannot count: sloppy quorum is off)` : '';
  return `it can no longer be met: ${t.open} countable targets still pending of ${countable} placed${why}`;
}

/** The success path's view: which nodes' replies counted, and whether all were primaries (no message built). */
export interface Counted {
  ackedNodes: readonly number[];
  primaryOnly: boolean;
}

export function counted(core: { tally: Tally }): Counted {
  return { ackedNodes: core.tally.ackOrder, primaryOnly: core.tally.countedFallbacks === 0 };
}
