/**
 * The leader's view of each follower: how far its log matches, what to send next, and how many
 * appends may be in flight (pipelining).
 */

/**
 * - `probe`: we do not know where the follower's log matches; send one append per heartbeat
 *   interval and wait for the answer.
 * - `replicate`: the follower is in step; stream appends optimistically, up to the inflight window.
 * - `snapshot`: a snapshot is on its way; send nothing else until it is acknowledged.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded FIFO of the last index of each append in flight, freed as acknowledgements arrive. */
export class Inflights {
  private readonly buffer: number[] = [];

  constructor(readonly capacity: number) {}

  get count(): number {
    return this.buffer.length;
  }

  full(): boolean {
    return this.buffer.length >= this.capacity;
  }

  add(lastIndex: number): void {
    this.buffer.push(lastIndex);
  }

  /** Frees every append whose last index is ≤ `index`. */
  freeLE(index: number): void {
    let freed = 0;
    while (freed < this.buffer.length && (this.buffer[freed] ?? Infinity) <= index) freed++;
    if (freed > 0) this.buffer.splice(0, freed);
  }

  freeFirstOne(): void {
    this.buffer.shift();
  }

  reset(): void {
    this.buffer.length = 0;
  }
}

/** Replication progress of one peer, as tracked by the leader. */
export class Progress {
  match = 0;
  state: ProgressState = 'probe';
  /** In `probe`: an append was sent and not answered yet (reset by a heartbeat response). */
  probeSent = false;
  /** In `snapshot`: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Ticks spent in `snapshot` state; a lost snapshot is retried after an election timeout. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(
    public next: number,
    maxInflight: number,
  ) {
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to `index`; false if it was stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejection of the append after `rejected`; `matchHint` is the leader's guess (from the
   * follower's hint) of the last index that can match. False if the rejection was stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back appends to this peer for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** For status output and tests: `state match=M next=N`. */
  describe(): string {
    return `${this.state} match=${this.match} next=${this.next}`;
  }
}
