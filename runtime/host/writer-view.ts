// The writer's side of a SharedStore as the Replica actor sees it, shared by every runtime whose replica owns a
// shared-memory store (a writer never gets BUSY: it compacts synchronously).

import type { ReplicaStore } from '../../actors/replica/stores.js';
import type { SharedStore } from './store.js';

export function writerView(s: SharedStore): ReplicaStore & { delete(k: string): boolean } {
  return {
    forEachKey: (fn) => {
      for (const k of s.keys()) fn(k); // keys only: no clock decoded
    },
    get: (k) => {
      const c = s.get(k);
      if (typeof c === 'symbol') throw new Error('writer saw BUSY on its own store');
      return c;
    },
    set: (k, c) => s.set(k, c),
    delete: (k) => s.delete(k),
  };
}
