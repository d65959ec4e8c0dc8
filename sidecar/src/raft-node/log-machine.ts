/**
 * Another state machine sharing the Raft log with the lease table (the saga table): the driver
 * hands it every committed entry the lease table does not claim, and snapshots carry both.
 *
 * Snapshot bytes: a lease table's snapshot is JSON (first byte `{`). With a second machine the
 * snapshot is `[0x00][u32 BE lease length][lease bytes][machine bytes]`; a snapshot that starts
 * with `{` is a lease-only snapshot (taken before the second machine existed) and restores the
 * second machine empty.
 */

/** Where a committed entry sits. */
export interface EntryPosition {
  readonly index: number;
  readonly term: number;
}

/** A replicated state machine beside the lease table. */
export interface LogMachine {
  /**
   * Applies a committed entry that is not a lease command. Returns `{result}` when the entry is
   * this machine's (the result goes to whoever proposed it), undefined when it is not.
   */
  apply(position: EntryPosition, data: Uint8Array): { readonly result: unknown } | undefined;
  /** Serializes the machine's state. */
  snapshot(): Uint8Array;
  /** Replaces the machine's state with a snapshot's (empty bytes: the empty state). */
  restore(data: Uint8Array): void;
}

const COMPOSITE = 0x00;

/** Joins the lease table's snapshot and the machine's into one. */
export function composeSnapshot(leases: Uint8Array, machine: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + leases.byteLength + machine.byteLength);
  out[0] = COMPOSITE;
  new DataView(out.buffer).setUint32(1, leases.byteLength);
  out.set(leases, 5);
  out.set(machine, 5 + leases.byteLength);
  return out;
}

/** The inverse of {@link composeSnapshot}; a lease-only snapshot gives an empty `machine`. */
export function splitSnapshot(data: Uint8Array): { leases: Uint8Array; machine: Uint8Array } {
  if (data.byteLength === 0 || data[0] !== COMPOSITE) {
    return { leases: data, machine: new Uint8Array() };
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getUint32(1);
  return { leases: data.subarray(5, 5 + length), machine: data.subarray(5 + length) };
}
