// The peer side of an exchange: answers ae-tree (node hashes), ae-keys (a segment's keys and digests, paged),
// ae-sync (merges the initiator's clocks, sends back the wanted ones) and ae-tombs (confirms tombstones, and counts
// the exchange as served). It keeps no state between requests; anything malformed or out of range gets ae-abort.

import type { AeKeysReply, AeMessage, Send, StoredClock } from '../protocol.js';
import type { AeContext } from './config.js';
import { versionDigest } from './digest.js';
import type { RangeState, Ranges } from './ranges.js';
import type { Reaper } from './reaping.js';
import type { Rebuild } from './rebuild.js';

export type AeRequest = Extract<AeMessage, { type: 'ae-tree' | 'ae-keys' | 'ae-sync' | 'ae-tombs' }>;

export class Server {
  constructor(
    private readonly ctx: AeContext,
    private readonly ranges: Ranges,
    private readonly rebuild: Rebuild,
    private readonly reaper: Reaper,
  ) {}

  serve(msg: AeRequest, nowMs: number, out: Send[]): void {
    const node = this.ctx.node;
    const r = this.ranges.get(msg.range);
    const abort = (reason: string): void => {
      out.push({ to: msg.from, msg: { type: 'ae-abort', req: msg.req, from: node, reason } });
    };
    if (r === undefined || !r.peers.includes(msg.from)) {
      return abort(`node ${node} and node ${msg.from} do not share range ${msg.range}`);
    }
    switch (msg.type) {
      case 'ae-tree': {
        if (msg.depth === 0 && (this.rebuild.busy() || !this.ranges.settle(r))) return abort(`node ${node} is rebuilding its trees`);
        if (!this.validIndices(r, msg.depth, msg.indices)) return abort('ae-tree asks for nodes outside the tree or too many');
        const hashes: number[] = [];
        for (const i of msg.indices) {
          const h = r.tree.node(msg.depth, i);
          hashes.push(Number(h >> 32n), Number(h & 0xffff_ffffn));
        }
        out.push({ to: msg.from, msg: { type: 'ae-tree-reply', req: msg.req, from: node, depth: msg.depth, hashes } });
        return;
      }
      case 'ae-keys': {
        const reply = this.listKeys(r, msg.segments, msg.after, msg.req);
        if (reply === null) return abort('ae-keys asks for segments outside the tree or too many');
        out.push({ to: msg.from, msg: reply });
        return;
      }
      case 'ae-sync': {
        const max = this.ctx.config.maxKeysPerMessage;
        if (msg.entries.length > max || msg.want.length > max) return abort(`ae-sync carries more than ${max} keys`);
        out.push({ to: msg.from, msg: { type: 'ae-sync-reply', req: msg.req, from: node, entries: this.sync(r, msg) } });
        return;
      }
      case 'ae-tombs': {
        if (msg.keys.length > this.ctx.config.maxKeysPerMessage || msg.digests.length !== msg.keys.length) {
          return abort('ae-tombs is malformed or too long');
        }
        const keys = msg.keys.filter((k, i) => this.reaper.confirm(r, k, msg.digests[i] >>> 0, msg.from, nowMs));
        r.doneMs.set(msg.from, nowMs);
        this.ctx.counters.exchangesServed++;
        out.push({ to: msg.from, msg: { type: 'ae-tombs-reply', req: msg.req, from: node, keys } });
        return;
      }
    }
  }

  /** Merges what the initiator sent; returns the wanted clocks, less those whose merge here changed nothing it sent. */
  private sync(r: RangeState, msg: Extract<AeMessage, { type: 'ae-sync' }>): Array<{ key: string; clock: StoredClock }> {
    const { host, counters } = this.ctx;
    const sent = new Map<string, number>();
    for (const e of msg.entries) {
      if (host.merge(e.key, e.clock)) counters.keysRepaired++;
      sent.set(e.key, versionDigest(e.clock));
    }
    const entries: Array<{ key: string; clock: StoredClock }> = [];
    for (const key of msg.want) {
      const clock = host.get(key);
      if (clock === undefined || r.settledTomb(key) || sent.get(key) === versionDigest(clock)) continue;
      entries.push({ key, clock });
    }
    return entries;
  }

  private validIndices(r: RangeState, depth: number, indices: number[]): boolean {
    if (!Number.isInteger(depth) || depth < 0 || depth > r.tree.leafDepth) return false;
    if (!Array.isArray(indices) || indices.length > this.ctx.config.maxNodesPerMessage) return false;
    const size = r.tree.levelSize(depth);
    return indices.every((i) => Number.isInteger(i) && i >= 0 && i < size);
  }

  /** The answer to ae-keys: whole segments while they fit in maxKeysPerMessage, the last one possibly cut. */
  private listKeys(r: RangeState, segments: number[], after: string | null, req: number): AeKeysReply | null {
    const { maxKeysPerMessage: max, maxSegmentsPerRequest, segments: segmentCount } = this.ctx.config;
    if (!Array.isArray(segments) || segments.length === 0 || segments.length > maxSegmentsPerRequest) return null;
    if (!segments.every((s) => Number.isInteger(s) && s >= 0 && s < segmentCount)) return null;
    const reply: AeKeysReply = {
      type: 'ae-keys-reply', req, from: this.ctx.node, segments: [], counts: [], keys: [], digests: [], more: false,
    };
    for (let i = 0; i < segments.length; i++) {
      let items = this.ranges.items(r, segments[i]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      if (i === 0 && after !== null) items = items.filter(([k]) => k > after);
      const room = max - reply.keys.length;
      if (room <= 0) break;
      const take = Math.min(room, items.length);
      reply.segments.push(segments[i]);
      reply.counts.push(take);
      for (let j = 0; j < take; j++) {
        reply.keys.push(items[j][0]);
        reply.digests.push(items[j][1]);
      }
      if (take < items.length) {
        reply.more = true;
        break;
      }
    }
    return reply;
  }
}
