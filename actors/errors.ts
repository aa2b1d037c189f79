// Typed errors shared by the protocol and the runtime.
//
// Every error leaderless throws extends LeaderlessError and carries a stable `code`, so that callers can switch on
// it without parsing messages. Messages say what was wrong and what is allowed. Errors are plain data plus a class:
// they can be rebuilt on the other side of a thread boundary from { code, message, details } (see fromWire).

export type ErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'QUORUM_UNREACHABLE'
  | 'TIMEOUT'
  | 'OVERLOADED'
  | 'STOPPED'
  | 'STORE_FULL'
  | 'WRONG_EPOCH'
  | 'INTERNAL';

export class LeaderlessError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
  toWire(): WireError {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** A configuration or option that can never work (W > N, an unknown datacenter, a non-integer). */
export class InvalidConfigError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_CONFIG', message, details);
  }
}

/** An argument of the wrong type or shape (a key that is a number, a malformed context). */
export class InvalidArgumentError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_ARGUMENT', message, details);
  }
}

export class KeyTooLargeError extends LeaderlessError {
  constructor(bytes: number, limit: number) {
    super('KEY_TOO_LARGE', `key is ${bytes} bytes; the limit is ${limit} bytes (config maxKeyBytes)`, { bytes, limit });
  }
}

export class ValueTooLargeError extends LeaderlessError {
  constructor(bytes: number, limit: number) {
    super('VALUE_TOO_LARGE', `value is ${bytes} bytes; the limit is ${limit} bytes (config maxValueBytes)`, {
      bytes,
      limit,
    });
  }
}

/** Not enough replicas answered (or could ever answer) to meet the requested consistency. */
export class QuorumError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('QUORUM_UNREACHABLE', message, details);
  }
}

export class TimeoutError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('TIMEOUT', message, details);
  }
}

/** A bounded queue (a mailbox, a hint queue, a batch) is full: back off and retry. */
export class OverloadedError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('OVERLOADED', message, details);
  }
}

export class StoppedError extends LeaderlessError {
  constructor(message = 'the cluster has been stopped; start a new one with Cluster.start()') {
    super('STOPPED', message);
  }
}

export class StoreFullError extends LeaderlessError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('STORE_FULL', message, details);
  }
}

export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

const byCode: Record<ErrorCode, (m: string, d: Record<string, unknown>) => LeaderlessError> = {
  INVALID_CONFIG: (m, d) => new InvalidConfigError(m, d),
  INVALID_ARGUMENT: (m, d) => new InvalidArgumentError(m, d),
  KEY_TOO_LARGE: (_m, d) => new KeyTooLargeError(Number(d.bytes), Number(d.limit)),
  VALUE_TOO_LARGE: (_m, d) => new ValueTooLargeError(Number(d.bytes), Number(d.limit)),
  QUORUM_UNREACHABLE: (m, d) => new QuorumError(m, d),
  TIMEOUT: (m, d) => new TimeoutError(m, d),
  OVERLOADED: (m, d) => new OverloadedError(m, d),
  STOPPED: (m) => new StoppedError(m),
  STORE_FULL: (m, d) => new StoreFullError(m, d),
  // the class is WrongEpochError (actors/membership/errors.ts, which imports this file): rebuilt by wrongEpochFromWire
  WRONG_EPOCH: (m, d) => new LeaderlessError('WRONG_EPOCH', m, d),
  INTERNAL: (m, d) => new LeaderlessError('INTERNAL', m, d),
};

/**
 * A value as an error message shows it. String(v) itself throws for an object without a prototype or with a throwing
 * toString, and the caller would then get an untyped TypeError instead of the typed error being built.
 */
export function show(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** Rebuilds a typed error from its wire form (errors cross threads as plain data). */
export function fromWire(w: WireError): LeaderlessError {
  return byCode[w.code](w.message, w.details);
}
