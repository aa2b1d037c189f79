// What a replica counts. The runtimes read these for stats and metrics.

export interface ReplicaCounters {
  puts: number;
  putsOk: number;
  putsFailed: number;
  putsTimedOut: number;
  replicates: number;
  gets: number;
  repairs: number;
  hintedWrites: number;
  hintsRefused: number;
  handoffsSent: number;
  handoffsReceived: number;
  storeErrors: number;
}

export function newReplicaCounters(): ReplicaCounters {
  return {
    puts: 0,
    putsOk: 0,
    putsFailed: 0,
    putsTimedOut: 0,
    replicates: 0,
    gets: 0,
    repairs: 0,
    hintedWrites: 0,
    hintsRefused: 0,
    handoffsSent: 0,
    handoffsReceived: 0,
    storeErrors: 0,
  };
}
