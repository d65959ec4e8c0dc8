import { describe, expect, it } from '@jest/globals';
import {
  MAX_COMMANDS_PER_ENTRY,
  SagaEntryBuilder,
  decodeSagaEntry,
  type CallOutcome,
  type SagaCommand,
} from './commands.js';
import { SagaTable, currentCall, idempotencyKey, type SagaInstance } from './saga-table.js';

const ID = '0123456789abcdef0123456789abcdef';
const ok = (body?: unknown): CallOutcome => ({ kind: 'response', status: 200, body });
const http = (status: number): CallOutcome => ({ kind: 'response', status });
const timeout: CallOutcome = {
  kind: 'error',
  uncertain: true,
  message: 'no answer within 2000 ms',
};

function entryOf(...commands: SagaCommand[]): Uint8Array {
  const builder = new SagaEntryBuilder();
  for (const command of commands) builder.add(command);
  return builder.build();
}

/** Applies commands as consecutive log entries. */
class Log {
  index = 0;
  readonly commands: SagaCommand[] = [];
  constructor(readonly table = new SagaTable()) {}
  apply(command: SagaCommand) {
    this.index++;
    this.commands.push(command);
    // Through the codec, as the driver does.
    const decoded = decodeSagaEntry(entryOf(command));
    if (decoded?.length !== 1) throw new Error('codec lost the command');
    return this.table.apply({ index: this.index, term: 2 }, decoded[0] as SagaCommand);
  }
  start(steps: [string, boolean][]) {
    return this.apply({
      op: 'start',
      id: ID,
      saga: 'shop/order',
      input: { total: 1 },
      steps: steps.map(([name, compensable]) => ({ name, compensable })),
      at: 1000,
    });
  }
  outcome(
    phase: 'action' | 'compensation',
    step: number,
    attempt: number,
    outcome: CallOutcome,
    verdict: 'succeeded' | 'retry' | 'failed',
    deadlineExceeded = false,
  ) {
    return this.apply({
      op: 'outcome',
      id: ID,
      phase,
      step,
      attempt,
      outcome,
      verdict,
      deadlineExceeded,
      at: 2000,
    });
  }
  get instance(): SagaInstance {
    return this.table.get(ID) as SagaInstance;
  }
}

const THREE: [string, boolean][] = [
  ['reserve', true],
  ['charge', true],
  ['ship', false],
];

describe('saga table', () => {
  it('runs the steps in order and completes: intent of the next step in the outcome entry', () => {
    const log = new Log();
    log.start(THREE);
    expect(currentCall(log.instance)).toMatchObject({
      phase: 'action',
      step: 0,
      record: { status: 'in-flight', attempts: 1 },
    });
    log.outcome('action', 0, 1, ok({ id: 'r1' }), 'succeeded');
    expect(currentCall(log.instance)).toMatchObject({
      phase: 'action',
      step: 1,
      record: { status: 'in-flight' },
    });
    log.outcome('action', 1, 1, ok(), 'succeeded');
    log.outcome('action', 2, 1, ok(), 'succeeded');
    expect(log.index).toBe(4);
    expect(log.instance).toMatchObject({ state: 'Completed', finishedAt: 2000 });
    expect(log.instance.steps[0]?.action.response).toEqual({ status: 200, body: { id: 'r1' } });
    expect([...log.table.unfinished()]).toEqual([]);
  });

  it('compensates the completed steps in reverse order when a step fails, then is Compensated', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, ok(), 'succeeded');
    log.outcome('action', 1, 1, ok(), 'succeeded');
    log.outcome('action', 2, 1, http(400), 'failed');
    expect(log.instance).toMatchObject({
      state: 'Compensating',
      cursor: 1,
      error: 'step ship failed: HTTP 400',
    });
    log.outcome('compensation', 1, 1, ok(), 'succeeded');
    expect(log.instance).toMatchObject({ state: 'Compensating', cursor: 0 });
    log.outcome('compensation', 0, 1, ok(), 'succeeded');
    expect(log.instance.state).toBe('Compensated');
    const compensations = log.instance.log.filter(
      (l) => l.phase === 'compensation' && l.event === 'succeeded',
    );
    expect(compensations.map((l) => l.step)).toEqual(['charge', 'reserve']);
  });

  it('is Failed when the first step fails (nothing to undo)', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, http(422), 'failed');
    expect(log.instance.state).toBe('Failed');
  });

  it('retries: the failed attempt waits, the retry entry intends the next attempt', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, http(503), 'retry');
    expect(currentCall(log.instance)?.record).toMatchObject({
      status: 'awaiting-retry',
      attempts: 1,
      error: 'HTTP 503',
    });
    // A stale or duplicated outcome of attempt 1 changes nothing.
    expect(log.outcome('action', 0, 1, ok(), 'succeeded')).toEqual({
      applied: false,
      reason: 'stale',
    });
    expect(log.apply({ op: 'retry', id: ID, phase: 'action', step: 0, attempt: 3, at: 3 })).toEqual(
      { applied: false, reason: 'stale' },
    );
    log.apply({ op: 'retry', id: ID, phase: 'action', step: 0, attempt: 2, at: 3 });
    expect(currentCall(log.instance)?.record).toMatchObject({ status: 'in-flight', attempts: 2 });
    log.outcome('action', 0, 2, ok(), 'succeeded');
    expect(log.instance.cursor).toBe(1);
  });

  it('compensates a step whose outcome is unknown (it may have taken effect)', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, ok(), 'succeeded');
    log.outcome('action', 1, 1, timeout, 'failed');
    expect(log.instance).toMatchObject({ state: 'Compensating', cursor: 1 });
    expect(log.instance.steps[1]?.action.maybeApplied).toBe(true);
  });

  it('ends in NeedsAttention, error kept, when a compensation fails for good', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, ok(), 'succeeded');
    log.outcome('action', 1, 1, http(409), 'failed');
    log.outcome('compensation', 0, 1, http(500), 'retry');
    log.apply({ op: 'retry', id: ID, phase: 'compensation', step: 0, attempt: 2, at: 5 });
    log.outcome('compensation', 0, 2, http(500), 'failed');
    expect(log.instance).toMatchObject({
      state: 'NeedsAttention',
      error: 'compensation of step reserve failed: HTTP 500',
    });
  });

  it('past the deadline: a success compensates, a pending retry times out', () => {
    const a = new Log();
    a.start(THREE);
    a.outcome('action', 0, 1, ok(), 'succeeded', true);
    expect(a.instance).toMatchObject({
      state: 'Compensating',
      cursor: 0,
      error: 'saga deadline exceeded',
    });
    const b = new Log();
    b.start(THREE);
    b.outcome('action', 0, 1, ok(), 'succeeded');
    b.outcome('action', 1, 1, http(503), 'retry');
    b.apply({ op: 'timeout', id: ID, at: 9 });
    expect(b.instance).toMatchObject({ state: 'Compensating', cursor: 0 });
    // A timeout while a call is in flight is refused: that call's outcome decides.
    expect(b.apply({ op: 'timeout', id: ID, at: 10 })).toEqual({ applied: false, reason: 'stale' });
  });

  it('refuses a duplicate start and commands for unknown instances', () => {
    const log = new Log();
    log.start(THREE);
    expect(log.start(THREE)).toEqual({ applied: false, reason: 'duplicate' });
    expect(log.apply({ op: 'timeout', id: 'f'.repeat(32), at: 1 })).toEqual({
      applied: false,
      reason: 'unknown-instance',
    });
  });

  it('forgets finished instances past retention, and the oldest beyond the cap', () => {
    const table = new SagaTable();
    const ids = ['a', 'b', 'c'].map((c) => c.repeat(32));
    ids.forEach((id, i) => {
      table.apply(
        { index: i * 2 + 1, term: 2 },
        {
          op: 'start',
          id,
          saga: 's/x',
          input: {},
          steps: [{ name: 'a', compensable: false }],
          at: 1000 * i,
        },
      );
      table.apply(
        { index: i * 2 + 2, term: 2 },
        {
          op: 'outcome',
          id,
          phase: 'action',
          step: 0,
          attempt: 1,
          outcome: ok(),
          verdict: 'succeeded',
          deadlineExceeded: false,
          at: 1000 * i,
        },
      );
    });
    expect(table.expired(1500, () => 1000, 10)).toEqual([ids[0]]);
    expect(table.expired(0, () => 1e9, 1)).toEqual([ids[0], ids[1]]);
    table.apply({ index: 7, term: 2 }, { op: 'forget', ids: [ids[0] as string] });
    expect(table.size).toBe(2);
    expect(table.counts().get('s/x')?.Completed).toBe(2);
  });

  it('retention reads from the oldest finish: per saga, up to a limit, also after a restore', () => {
    const table = new SagaTable();
    // Finished in this order: x0 (t=0), y1 (t=10), x2 (t=20), y3 (t=30), x4 (t=40).
    const ids = [0, 1, 2, 3, 4].map((n) => String(n).repeat(32));
    ids.forEach((id, n) => {
      const saga = n % 2 === 0 ? 's/x' : 's/y';
      const steps = [{ name: 'a', compensable: false }];
      table.apply(
        { index: n * 2 + 1, term: 2 },
        { op: 'start', id, saga, input: {}, steps, at: 0 },
      );
      table.apply(
        { index: n * 2 + 2, term: 2 },
        {
          op: 'outcome',
          id,
          phase: 'action',
          step: 0,
          attempt: 1,
          outcome: ok(),
          verdict: 'succeeded',
          deadlineExceeded: false,
          at: n * 10,
        },
      );
    });
    const retention = (saga: string) => (saga === 's/x' ? 25 : 1000);
    // s/x keeps 25 ms: x0 and x2 are past it at t=46, x4 is not; s/y keeps everything.
    expect(table.expired(46, retention, 100)).toEqual([ids[0], ids[2]]);
    expect(table.expired(46, retention, 100, 1)).toEqual([ids[0]]);
    expect(table.expired(46, retention, 3)).toEqual([ids[0], ids[1], ids[2]]);
    const restored = SagaTable.restore(table.snapshot());
    expect(restored.expired(46, retention, 100)).toEqual([ids[0], ids[2]]);
    restored.apply({ index: 11, term: 2 }, { op: 'forget', ids: [ids[0] as string] });
    expect(restored.expired(46, retention, 100)).toEqual([ids[2]]);
    expect(restored.expired(46, retention, 3)).toEqual([ids[1], ids[2]]);
  });

  it('snapshots: equal tables give equal bytes, and restore continues identically', () => {
    const log = new Log();
    log.start(THREE);
    log.outcome('action', 0, 1, ok({ id: 1 }), 'succeeded');
    const restored = SagaTable.restore(log.table.snapshot());
    expect(restored.snapshot()).toEqual(log.table.snapshot());
    expect([...restored.unfinished()].map((i) => i.id)).toEqual([ID]);
    const next: SagaCommand = {
      op: 'outcome',
      id: ID,
      phase: 'action',
      step: 1,
      attempt: 1,
      outcome: ok(),
      verdict: 'succeeded',
      deadlineExceeded: false,
      at: 1,
    };
    restored.apply({ index: 3, term: 2 }, next);
    log.apply(next);
    expect(restored.snapshot()).toEqual(log.table.snapshot());
  });

  it('snapshots are deflated (a busy table fits a transport message); plain JSON ones still restore', () => {
    const table = new SagaTable();
    for (let n = 0; n < 2000; n++) {
      const id = n.toString(16).padStart(32, '0');
      table.apply(
        { index: n + 1, term: 2 },
        {
          op: 'start',
          id,
          saga: 'shop/order',
          input: { items: [n], total: n },
          steps: THREE.map(([name, compensable]) => ({ name, compensable })),
          at: 1000 + n,
        },
      );
    }
    const json = JSON.stringify({ instances: [...table.unfinished()] });
    const snapshot = table.snapshot();
    expect(snapshot[0]).toBe(0x5a); // Z
    expect(snapshot.byteLength * 10).toBeLessThan(json.length);
    expect(SagaTable.restore(snapshot).snapshot()).toEqual(snapshot);
    // Taken before deflate: the JSON itself.
    const legacy = SagaTable.restore(new TextEncoder().encode(json));
    expect(legacy.snapshot()).toEqual(snapshot);
    expect(legacy.size).toBe(2000);
  });

  it('idempotency keys: <instance>-<step>, and a distinct key for the compensation', () => {
    expect(idempotencyKey(ID, 'charge', 'action')).toBe(`${ID}-charge`);
    expect(idempotencyKey(ID, 'charge', 'compensation')).toBe(`${ID}-charge-compensation`);
  });
});

describe('saga entries codec', () => {
  const enc = new TextEncoder();
  const start: SagaCommand = {
    op: 'start',
    id: ID,
    saga: 'shop/order',
    input: { total: 1 },
    steps: [{ name: 'reserve', compensable: true }],
    at: 1,
  };
  const retry: SagaCommand = { op: 'retry', id: ID, phase: 'action', step: 0, attempt: 2, at: 2 };

  it('carries several commands in one entry, in order, tagged so the lease decoder skips it', () => {
    const entry = entryOf(start, retry, { op: 'barrier' });
    expect(entry[0]).not.toBe(0x7b); // the lease decoder gives up at the first byte
    expect(decodeSagaEntry(entry)).toEqual([start, retry, { op: 'barrier' }]);
  });

  it('still reads entries written before batching ({"saga": command})', () => {
    expect(decodeSagaEntry(enc.encode(JSON.stringify({ saga: retry })))).toEqual([retry]);
  });

  it('ignores other machines entries and flags malformed saga entries as a whole', () => {
    expect(decodeSagaEntry(enc.encode('{"lease":{"op":"acquire"},"stamp":1}'))).toBeUndefined();
    expect(decodeSagaEntry(new Uint8Array())).toBeUndefined();
    expect(decodeSagaEntry(enc.encode('{"saga":{"op":"start","id":"nothex"}}'))).toBe('malformed');
    expect(
      decodeSagaEntry(
        enc.encode(
          '{"saga":{"op":"outcome","id":"' + ID + '","phase":"action","step":0,"attempt":0}}',
        ),
      ),
    ).toBe('malformed');
    // One bad command spoils the entry: replicas must not apply half of it.
    const bad = enc.encode(`S[${JSON.stringify(start)},{"op":"retry","id":"${ID}"}]`);
    expect(decodeSagaEntry(bad)).toBe('malformed');
    expect(decodeSagaEntry(enc.encode('S[]'))).toBe('malformed');
    expect(decodeSagaEntry(enc.encode('S{"op":"barrier"}'))).toBe('malformed');
    expect(decodeSagaEntry(enc.encode('S[{"op":"barrier"'))).toBe('malformed');
    const tooMany = `S[${Array.from({ length: MAX_COMMANDS_PER_ENTRY + 1 }, () => '{"op":"barrier"}').join(',')}]`;
    expect(decodeSagaEntry(enc.encode(tooMany))).toBe('malformed');
  });
});
