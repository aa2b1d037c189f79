// Which keys a replica may keep in its store: only those whose preference list names it. A node holds data for a key
// it does not own only as a hint (delivered, then dropped): any other stray copy escapes anti-entropy and tombstone
// reaping, and a reaped delete would come back through it.

import { InvalidArgumentError, type WireError } from '../errors.js';
import { hash32 } from '../hash.js';
import type { Address } from '../protocol.js';

/**
 * An error when the key is not `node`'s by the ring (`placement`: a key's primaries by its hash32); undefined when it
 * is, or when no placement was given (the replica cannot tell).
 */
export function foreignKeyError(
  node: Address,
  placement: ((keyHash: number) => readonly number[]) | undefined,
  key: string,
): WireError | undefined {
  if (placement === undefined) return undefined; // no ring given: it cannot tell
  const owners = placement(hash32(key));
  if (owners.includes(node)) return undefined;
  return new InvalidArgumentError(
    `replica ${node} does not own the key (its replicas are ${owners.join(',')}) and was not sent it as a hint: ` +
      'a node keeps data for a key it does not own only as a hint',
    { node, owners: [...owners] },
  ).toWire();
}
