// A single-producer single-consumer byte ring in a SharedArrayBuffer: the hot path of the thread transport.
//
// Why: a postMessage costs both threads a fixed ~10-20 us (serializer, a MessageEvent, the receiving loop's wake-up)
// whatever the batch holds, and under load it was 10-22% of every thread's CPU (issue 13's profile). A batch written
// into shared memory costs a copy; the receiver, busy anyway, finds it on its next poll. A message on the port is
// needed only to wake a receiver that has gone idle.
//
// Layout: Int32 header then `capacity` data bytes (a power of two).
//   H_HEAD   bytes consumed, a uint32 counter (written by the receiver)
//   H_TAIL   bytes published, a uint32 counter (written by the sender): a record is visible once the tail covers it
//   H_IDLE   1 while the receiver sleeps: the sender that flips it to 0 owes it a wake-up message on the port
//   H_POSTED batches the sender posted on the port instead (written by the sender)
//   H_TAKEN  of those, how many the receiver has handled (written by the receiver)
// A record is [length:u32][bytes] padded to 4; a record that does not fit before the end of the data is preceded by
// a WRAP marker and written at offset 0. Counters wrap at 2^32, which a power-of-two capacity divides.
//
// Order: batches on the port and in the ring between one sender and one receiver are handled in the order they were
// sent. The sender uses the ring only while no batch it posted is unhandled (H_POSTED = H_TAKEN), and the receiver
// drains the ring before it handles a posted batch: so everything in the ring precedes every posted batch, and no
// ring write happens while a posted one is on the way.
//
// No lost wake-up: the receiver stores H_IDLE = 1 and then loads H_TAIL; the sender stores H_TAIL and then loads
// H_IDLE. Atomics are sequentially consistent, so at least one of them sees the other's store: the receiver finds
// the record, or the sender wakes it (both may happen: a spare wake-up only costs a poll).

const H_HEAD = 0;
const H_TAIL = 1;
const H_IDLE = 2;
const H_POSTED = 3;
const H_TAKEN = 4;
const HEADER_INTS = 8;
const HEADER_BYTES = HEADER_INTS * 4;
const WRAP = -1;
const RECORD_HEADER_BYTES = 4;

export const DEFAULT_RING_BYTES = 1 << 19;

export class ByteRing {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  private readonly data32: Int32Array;
  private readonly capacity: number;
  private readonly mask: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER_INTS);
    this.capacity = buffer.byteLength - HEADER_BYTES;
    if (this.capacity < 1024 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new RangeError(`ring capacity is ${this.capacity} bytes; must be a power of two of at least 1024`);
    }
    this.mask = this.capacity - 1;
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.data32 = new Int32Array(buffer, HEADER_BYTES, this.capacity / 4);
  }

  /** A new ring; its receiver starts idle, so the first write wakes it. */
  static create(capacityBytes = DEFAULT_RING_BYTES): ByteRing {
    const ring = new ByteRing(new SharedArrayBuffer(HEADER_BYTES + capacityBytes));
    Atomics.store(ring.header, H_IDLE, 1);
    return ring;
  }

  static attach(buffer: SharedArrayBuffer): ByteRing {
    return new ByteRing(buffer);
  }

  /** The largest batch the ring takes; a larger one goes on the port. */
  get maxRecordBytes(): number {
    return this.capacity >>> 2;
  }

  // ------------------------------------------------------------------------------------------------ sender side

  /** Whether the sender may write now: no batch it posted on the port is still unhandled (see Order above). */
  get inOrder(): boolean {
    return Atomics.load(this.header, H_POSTED) === Atomics.load(this.header, H_TAKEN);
  }

  /** The sender posted a batch on the port instead of writing it here. */
  posted(): void {
    Atomics.add(this.header, H_POSTED, 1);
  }

  /**
   * Writes bytes[0, length) as one record; false when there is no room (nothing is written). After a true, the
   * caller must call `wakeNeeded()` once its writes of this turn are done.
   */
  tryWrite(bytes: Uint8Array, length: number): boolean {
    if (length > this.maxRecordBytes) return false;
    const head = Atomics.load(this.header, H_HEAD) >>> 0;
    let tail = Atomics.load(this.header, H_TAIL) >>> 0;
    const padded = (length + 3) & ~3;
    const free = this.capacity - ((tail - head) >>> 0);
    let pos = tail & this.mask;
    const toEnd = this.capacity - pos;
    const skip = toEnd < RECORD_HEADER_BYTES + padded ? toEnd : 0;
    if (skip + RECORD_HEADER_BYTES + padded > free) return false;
    if (skip > 0) {
      this.data32[pos >>> 2] = WRAP;
      tail = (tail + skip) >>> 0;
      pos = 0;
    }
    this.data32[pos >>> 2] = length;
    this.data.set(length === bytes.length ? bytes : bytes.subarray(0, length), pos + RECORD_HEADER_BYTES);
    Atomics.store(this.header, H_TAIL, (tail + RECORD_HEADER_BYTES + padded) | 0);
    return true;
  }

  /** After writing: true when the receiver was idle and this sender must wake it (exactly one sender gets true). */
  wakeNeeded(): boolean {
    return Atomics.load(this.header, H_IDLE) === 1 && Atomics.compareExchange(this.header, H_IDLE, 1, 0) === 1;
  }

  // ---------------------------------------------------------------------------------------------- receiver side

  get empty(): boolean {
    return Atomics.load(this.header, H_HEAD) === Atomics.load(this.header, H_TAIL);
  }

  /**
   * Hands every published record to `take` (a view into shared memory, valid only during the call: copy what must
   * outlive it) and frees it; returns how many records there were.
   */
  drain(take: (bytes: Uint8Array, length: number) => void): number {
    let head = Atomics.load(this.header, H_HEAD) >>> 0;
    const tail = Atomics.load(this.header, H_TAIL) >>> 0;
    let records = 0;
    while (head !== tail) {
      let pos = head & this.mask;
      let length = this.data32[pos >>> 2];
      if (length === WRAP) {
        head = (head + (this.capacity - pos)) >>> 0;
        pos = 0;
        length = this.data32[0];
      }
      const padded = (length + 3) & ~3;
      try {
        take(this.data.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length), length);
      } finally {
        head = (head + RECORD_HEADER_BYTES + padded) >>> 0;
        Atomics.store(this.header, H_HEAD, head | 0);
      }
      records++;
    }
    return records;
  }

  /** The receiver handled a batch that came on the port. */
  tookPosted(): void {
    Atomics.add(this.header, H_TAKEN, 1);
  }

  /** The receiver goes to sleep (true) or is awake and polling (false). */
  setIdle(idle: boolean): void {
    Atomics.store(this.header, H_IDLE, idle ? 1 : 0);
  }
}
