// An application thread that stays attached to a cluster and runs the operations its parent asks for, one message at
// a time ({ op: 'get' | 'put', key, value?, consistency? } -> { values } | { error }). It lets a test change the
// cluster (kill and restart a replica) between operations of a client that lives in another thread.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Cluster, LeaderlessError } from '../../runtime/index.js';
import type { ClientHandle, ConsistencyLevel } from '../../runtime/index.js';

interface Command {
  op: 'get' | 'put' | 'close';
  key: string;
  value?: string;
  consistency?: ConsistencyLevel;
}

if (!isMainThread && (workerData as { serve?: ClientHandle })?.serve !== undefined) {
  const client = Cluster.attach((workerData as { serve: ClientHandle }).serve);
  parentPort!.on('message', (c: Command) => {
    const run = async (): Promise<unknown> => {
      if (c.op === 'close') {
        client.close();
        return { closed: true };
      }
      const options = c.consistency === undefined ? {} : { consistency: c.consistency, timeoutMs: 2000 };
      if (c.op === 'put') return { acked: (await client.put(c.key, c.value ?? '', options)).acked.length };
      return { values: (await client.get(c.key, options)).values.map(String) };
    };
    run().then(
      (r) => parentPort!.postMessage(r),
      (e: Error) => parentPort!.postMessage({ error: e instanceof LeaderlessError ? `${e.code}: ${e.message}` : String(e) }),
    );
  });
}
