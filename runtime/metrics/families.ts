// The families runtime/metrics/prometheus.ts exposes, as tables: name, type, a HELP line that says what the figure means and
// when to worry, and where the value comes from in cluster.metrics(). One row per family; a value that is missing
// (the simulator lacks anti-entropy and batch figures) yields no sample.
//
// Counters here are cumulative since the node's worker started: a restarted worker starts again from 0, which
// Prometheus's rate() treats as a counter reset.

/** One node of cluster.metrics().nodes (thread runtime) or SimCluster.metrics().nodes: everything optional but the id. */
export interface NodeInput {
  node: number;
  status: string;
  paused?: boolean;
  stale?: boolean;
  restarts?: number;
  mailboxDepth?: number;
  pendingPuts?: number;
  counters?: object;
  hints?: object;
  messagesIn?: number;
  messagesOut?: number;
  batchesIn?: number;
  batchesOut?: number;
  store?: object;
  ae?: object;
}

export interface Family<T> {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  value: (x: T) => unknown;
}

/** The states leaderless_node_state has a series for, always all of them. */
export const NODE_STATES = ['up', 'suspect', 'down'] as const;

const flag = (b: boolean | undefined): number | undefined => (b === undefined ? undefined : b ? 1 : 0);
/** field k of a nested object of the node (its shape differs between runtimes, so it is read by name) */
const field = (o: object | undefined, k: string): unknown => (o as Record<string, unknown> | undefined)?.[k];
const c = (k: string) => (n: NodeInput) => field(n.counters, k);
const hint = (k: string) => (n: NodeInput) => field(n.hints, k);
const ae = (k: string) => (n: NodeInput) => field(n.ae, k);
const store = (k: string) => (n: NodeInput) => field(n.store, k);

function counter(name: string, help: string, value: (n: NodeInput) => unknown): Family<NodeInput> {
  return { name: `leaderless_${name}_total`, type: 'counter', help, value };
}

function gauge(name: string, help: string, value: (n: NodeInput) => unknown): Family<NodeInput> {
  return { name: `leaderless_${name}`, type: 'gauge', help, value };
}

const NODE_STATE: Family<NodeInput>[] = [
  gauge('node_up', 'Whether the failure detector holds the node up (1) rather than suspect or down (0); 0 for long means reads and writes fall back to other replicas.', (n) => (n.status === 'up' ? 1 : 0)),
  gauge('node_paused', 'Whether the node is paused (1): it buffers messages and handles none, like a process stalled in GC.', (n) => flag(n.paused)),
  gauge('node_stale', 'Whether this node\'s worker could not be asked (1), so its other figures are the last it reported.', (n) => flag(n.stale)),
  counter('node_restarts', 'Times the supervisor restarted this node\'s worker after it died or was killed.', (n) => n.restarts),
  gauge('replica_mailbox_depth', 'Messages waiting in the node\'s bounded mailbox; near the capacity means the node falls behind and senders are refused.', (n) => n.mailboxDepth),
  gauge('replica_coordinating_writes', 'Writes this node is coordinating now, waiting for W acknowledgements.', (n) => n.pendingPuts),
];

const NODE_WRITES: Family<NodeInput>[] = [
  counter('replica_coordinated_writes', 'Writes this node coordinated (sent to the key\'s N replicas).', c('puts')),
  counter('replica_coordinated_writes_ok', 'Coordinated writes that reached W acknowledgements.', c('putsOk')),
  counter('replica_coordinated_writes_failed', 'Coordinated writes that could not reach W (too few replicas answered or accepted); a rising rate is an availability problem.', c('putsFailed')),
  counter('replica_coordinated_writes_timed_out', 'Coordinated writes whose replicas did not answer before the deadline.', c('putsTimedOut')),
  counter('replica_replicated_writes', 'Writes this node applied as one of a key\'s replicas, on a coordinator\'s behalf.', c('replicates')),
  counter('replica_reads', 'Reads this node answered as a replica.', c('gets')),
  counter('replica_read_repairs', 'Stale versions this node overwrote because a read found them behind; a high rate means replicas diverge.', c('repairs')),
  counter('replica_hinted_writes', 'Writes this node took as a fallback for a primary that was down, with a hint to hand off to the owner.', c('hintedWrites')),
  counter('replica_hints_refused', 'Writes this node refused to take as a hint (hint window passed or hint queue full).', c('hintsRefused')),
  counter('replica_handoffs_sent', 'Hinted writes this node handed off to their owner once it was back.', c('handoffsSent')),
  counter('replica_handoffs_received', 'Hinted writes this node received from a fallback as their owner.', c('handoffsReceived')),
  counter('replica_store_errors', 'Store writes refused, almost always because the store\'s arena is full.', c('storeErrors')),
];

const NODE_HINTS: Family<NodeInput>[] = [
  gauge('hint_queue_keys', 'Keys this node holds as hints for owners that are down; growing means an owner stays unreachable.', hint('keys')),
  gauge('hint_queue_bytes', 'Bytes of the hints this node holds for owners that are down.', hint('bytes')),
  gauge('hints_in_flight', 'Hints handed to their owner and not yet acknowledged.', hint('inFlight')),
  counter('hints_queued', 'Hints queued for a key not already held as a hint.', hint('queued')),
  counter('hints_merged', 'Writes merged into a hint already queued for the same key.', hint('merged')),
  counter('hints_delivered', 'Hints the owner acknowledged, so they left the queue.', hint('delivered')),
  counter('hints_expired', 'Hints dropped because they outlived the hint window before the owner came back (anti-entropy must repair those keys).', hint('expired')),
  counter('hints_dropped', 'Writes not admitted as hints: past the hint window, queue full, or not persisted.', hint('dropped')),
];

const NODE_IO: Family<NodeInput>[] = [
  counter('replica_messages_received', 'Protocol messages this node handled.', (n) => n.messagesIn),
  counter('replica_messages_sent', 'Protocol messages this node sent.', (n) => n.messagesOut),
  counter('replica_message_batches_received', 'Mailbox batches carrying the received messages (messages per batch shows batching at work).', (n) => n.batchesIn),
  counter('replica_message_batches_sent', 'Mailbox batches carrying the sent messages.', (n) => n.batchesOut),
  gauge('store_keys', 'Keys in the node\'s store, tombstones and hints included.', store('keys')),
  gauge('store_live_bytes', 'Bytes of live records in the store\'s shared-memory arena (headers and padding included).', store('liveBytes')),
  gauge('store_arena_bytes', 'Size of the store\'s shared-memory arena; live bytes close to it means compaction cannot free room.', store('arenaBytes')),
  counter('store_compactions', 'Times the store compacted its arena to reclaim the space of overwritten records.', store('compactions')),
];

const NODE_AE: Family<NodeInput>[] = [
  counter('ae_exchanges_started', 'Anti-entropy exchanges (Merkle tree comparisons with one peer over one range) this node started.', ae('exchangesStarted')),
  counter('ae_exchanges_completed', 'Anti-entropy exchanges this node started that finished.', ae('exchangesCompleted')),
  counter('ae_exchanges_failed', 'Anti-entropy exchanges that timed out or found the peer busy rebuilding its trees.', ae('exchangesFailed')),
  counter('ae_exchanges_skipped', 'Anti-entropy exchanges not started because the peer was down.', ae('exchangesSkipped')),
  counter('ae_exchanges_served', 'Anti-entropy exchanges this node answered as the peer.', ae('exchangesServed')),
  counter('ae_segments_compared', 'Merkle leaf hashes compared in exchanges this node started.', ae('segmentsCompared')),
  counter('ae_segments_exchanged', 'Segments whose key lists were exchanged because their hashes differed: replicas that diverged.', ae('segmentsExchanged')),
  counter('ae_keys_sent', 'Clocks sent or received in exchanges this node started.', ae('keysSent')),
  counter('ae_keys_repaired', 'Clocks received from peers by anti-entropy and merged into this node\'s store.', ae('keysRepaired')),
  counter('ae_moved_bytes', 'Estimated wire bytes of the exchanges this node started (hashes, key lists, keys, clocks).', ae('bytesMoved')),
  counter('ae_tombstones_confirmed', 'Tombstones this node found held by every replica of their key, which makes them reapable after the grace period.', ae('tombstonesConfirmed')),
  counter('ae_tombstones_reaped', 'Tombstones this node deleted for good, a grace period after every replica was seen holding them.', ae('tombstonesReaped')),
  counter('ae_reaps_deferred', 'Due tombstone reaps put back a grace period, because a node held a hint for the key, was down or did not answer.', ae('reapsDeferred')),
  counter('ae_segments_rehashed', 'Dirty Merkle segments rehashed before an exchange.', ae('segmentsRehashed')),
  counter('ae_tree_rebuilds', 'Times this node rebuilt its Merkle trees from the store (after a restart or a wipe).', ae('rebuilds')),
  gauge('ae_exchanges_in_flight', 'Anti-entropy exchanges this node has started and not finished.', ae('inFlight')),
  gauge('ae_rebuilding', 'Whether this node is rebuilding its Merkle trees now (1); exchanges with it fail meanwhile.', (n) => { const r = ae('rebuilding')(n); return typeof r === 'boolean' ? flag(r) : undefined; }),
  gauge('ae_tombstones_tracked', 'Tombstones this node tracks until every replica holds them and they can be reaped.', ae('tombstones')),
  gauge('ae_tombstones_awaiting_reap', 'Tracked tombstones now confirmed on every replica and waiting out the grace period.', ae('confirmedTombstones')),
  gauge('ae_ranges', 'Key ranges (replica sets) this node belongs to and keeps a Merkle tree for.', ae('ranges')),
  gauge('ae_last_rebuild_duration_seconds', 'How long this node\'s last Merkle tree rebuild took (hashing on the pool included); absent until one ran.', (n) => {
    const last = ae('lastRebuild')(n);
    const d = typeof last === 'object' && last !== null ? field(last, 'durationMs') : undefined;
    return typeof d === 'number' ? d / 1000 : undefined;
  }),
  gauge('ae_last_repair_timestamp_seconds', 'When this node last completed an exchange with every peer of every range (Unix time); absent until it has.', (n) => { const t = ae('lastRepairMs')(n); return typeof t === 'number' ? t / 1000 : undefined; }),
];

/** Families with one series per node (label node). */
export const NODE_FAMILIES: readonly Family<NodeInput>[] = [...NODE_STATE, ...NODE_WRITES, ...NODE_HINTS, ...NODE_IO, ...NODE_AE];

interface ClientInput {
  client?: object;
  watch?: { uptimeMs?: number };
  membership?: object;
}

const ring = (name: string, type: 'counter' | 'gauge', help: string, key: string): Family<ClientInput> => ({
  name: `leaderless_${name}`, type, help, value: (m) => field(m.membership, key),
});

function clientCounter(name: string, help: string, key: string): Family<ClientInput> {
  return { name: `leaderless_client_${name}_total`, type: 'counter', help, value: (m) => field(m.client, key) };
}

/** Families of this process's client and the cluster as a whole (no labels). */
export const CLIENT_FAMILIES: readonly Family<ClientInput>[] = [
  clientCounter('reads', 'Reads this process\'s client issued.', 'gets'),
  clientCounter('local_reads', 'Consistency-ONE reads answered from a replica\'s shared memory without a message.', 'getsLocal'),
  clientCounter('writes', 'Writes (and deletes) this process\'s client issued.', 'puts'),
  clientCounter('failures', 'Client operations that failed: quorum not met, timeout, or refused.', 'failures'),
  clientCounter('timeouts', 'Client operations that failed because their deadline passed.', 'timeouts'),
  clientCounter('read_repairs', 'Read repairs the client started after a read found replicas behind.', 'readRepairs'),
  clientCounter('siblings_returned', 'Reads that returned more than one sibling: concurrent writes the application must reconcile.', 'siblingsReturned'),
  clientCounter('coordinator_failovers', 'Writes resent to another coordinator because the first did not answer in time.', 'coordinatorFailovers'),
  clientCounter('epoch_retries', 'Operations tried again because a replica refused them under an older ring epoch (a membership change was under way).', 'epochRetries'),
  ring('ring_epoch', 'gauge', 'The ring\'s epoch: 1 at start, one more per membership change (join, leave, replace).', 'epoch'),
  ring('ring_members', 'gauge', 'Nodes on the ring now.', 'members'),
  ring('ring_nodes_left', 'gauge', 'Nodes that left the ring (their ids are never reused).', 'left'),
  ring('membership_changes_completed_total', 'counter', 'Membership changes (joins, leaves, replacements) completed since the cluster started.', 'changesCompleted'),
  ring('membership_handoffs_in_progress', 'gauge', 'Whether a membership change is handing ranges off now (1).', 'changeInProgress'),
  ring('membership_ranges_pending', 'gauge', 'Moving ranges of the change in progress not yet handed off: writes go to old and new replicas meanwhile.', 'rangesPending'),
  ring('membership_streams_pending', 'gauge', 'Handoff streams of the change in progress not yet done.', 'streamsPending'),
  {
    name: 'leaderless_membership_stalled_seconds',
    type: 'gauge',
    help: 'Time since a stream of the change in progress last made progress; growing means a node it needs is down.',
    value: (m) => { const v = field(m.membership, 'stalledMs'); return typeof v === 'number' ? v / 1000 : undefined; },
  },
  ring('membership_keys_moved_total', 'counter', 'Keys streamed to gaining replicas by membership changes.', 'keysMoved'),
  ring('membership_bytes_moved_total', 'counter', 'Estimated bytes streamed to gaining replicas by membership changes.', 'bytesMoved'),
  {
    name: 'leaderless_cluster_uptime_seconds',
    type: 'gauge',
    help: 'Time since the cluster started.',
    value: (m) => (typeof m.watch?.uptimeMs === 'number' ? m.watch.uptimeMs / 1000 : undefined),
  },
];
