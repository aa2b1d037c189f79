// The typed refusal of a request made against the wrong ring epoch (see epoch.ts for when it is given).

import { LeaderlessError, type WireError } from '../errors.js';

/**
 * Why a replica refused:
 *   sender-behind    the request carries an older epoch and the key's range moved since: fetch `currentEpoch`'s
 *                    membership and retry against it
 *   receiver-behind  the request carries a newer epoch than the receiver knows: the receiver must be sent the
 *                    membership first; retry after that (or against other replicas)
 *   not-owner        same epoch, but this replica does not serve this key for this access now (its range has been
 *                    handed off, or not yet): learn the range's phase (`rangeId`) and retry
 */
export type WrongEpochReason = 'sender-behind' | 'receiver-behind' | 'not-owner';

export interface WrongEpochDetails {
  node: number;
  requestEpoch: number;
  currentEpoch: number;
  reason: WrongEpochReason;
  keyHash: number;
  access: 'read' | 'write';
  /** the moving range of the key in the receiver's current plan, when there is one */
  rangeId?: number;
}

export class WrongEpochError extends LeaderlessError {
  declare readonly details: WrongEpochDetails & Record<string, unknown>;
  constructor(d: WrongEpochDetails, message = describe(d)) {
    super('WRONG_EPOCH', message, { ...d });
  }

  get currentEpoch(): number {
    return this.details.currentEpoch;
  }

  get reason(): WrongEpochReason {
    return this.details.reason;
  }
}

function describe(d: WrongEpochDetails): string {
  const key = `key hash ${d.keyHash >>> 0}${d.rangeId === undefined ? '' : ` (moving range ${d.rangeId})`}`;
  switch (d.reason) {
    case 'sender-behind':
      return (
        `node ${d.node} is at ring epoch ${d.currentEpoch}; a ${d.access} at epoch ${d.requestEpoch} for ${key} ` +
        `targets a range that moved since: fetch the membership of epoch ${d.currentEpoch} and retry`
      );
    case 'receiver-behind':
      return (
        `node ${d.node} is at ring epoch ${d.currentEpoch}, behind the request's epoch ${d.requestEpoch}: ` +
        `send it the membership of epoch ${d.requestEpoch}, then retry the ${d.access} of ${key}`
      );
    case 'not-owner':
      return (
        `node ${d.node} does not serve ${d.access}s of ${key} at epoch ${d.currentEpoch} in its view of the ` +
        `handoff: learn which ranges are complete and retry against the replicas they name`
      );
  }
}

/** Rebuilds the typed error from its wire form (actors/errors.ts's fromWire gives a plain LeaderlessError). */
export function wrongEpochFromWire(w: WireError): WrongEpochError | undefined {
  if (w.code !== 'WRONG_EPOCH') return undefined;
  return new WrongEpochError(w.details as unknown as WrongEpochDetails, w.message);
}
