import { describe, expect, it } from '@jest/globals';
import type { EntryReply } from '../raft-node/index.js';
import { decodeSagaEntry, type SagaCommand } from './commands.js';
import { SagaEntryBatcher } from './entry-batcher.js';
import { SagaMachine } from './saga-machine.js';

const id = (n: number) => n.toString(16).padStart(32, '0');
const start = (n: number, input: unknown = { n }): SagaCommand => ({
  op: 'start',
  id: id(n),
  saga: 'shop/order',
  input,
  steps: [{ name: 'reserve', compensable: true }],
  at: 1,
});

/** A log of one member: every proposed entry commits at the next index and is applied. */
class AppliedLog {
  readonly machine = new SagaMachine();
  readonly entries: Uint8Array[] = [];
  proposeEntry = (data: Uint8Array): Promise<EntryReply> => {
    this.entries.push(data);
    const applied = this.machine.apply({ index: this.entries.length, term: 1 }, data);
    return Promise.resolve({ ok: true, result: applied?.result });
  };
}

describe('SagaEntryBatcher', () => {
  it('puts the commands of one turn into one entry and answers each proposer with its own result', async () => {
    const log = new AppliedLog();
    const batcher = new SagaEntryBatcher({ proposeEntry: log.proposeEntry });
    const answers = await Promise.all([
      batcher.propose(start(1)),
      batcher.propose(start(2)),
      batcher.propose(start(1)), // the same id again: refused by the table, alone
    ]);
    expect(log.entries).toHaveLength(1);
    expect(decodeSagaEntry(log.entries[0] as Uint8Array)).toHaveLength(3);
    expect(answers.map((a) => a.ok && a.result.applied)).toEqual([true, true, false]);
    expect(answers[1]).toMatchObject({ ok: true, result: { instance: { id: id(2) } } });
    expect(answers[2]).toEqual({ ok: true, result: { applied: false, reason: 'duplicate' } });
    // The next turn gets an entry of its own.
    await batcher.propose({ op: 'barrier' });
    expect(log.entries).toHaveLength(2);
  });

  it('seals an entry early at maxCommands or maxBytes', async () => {
    const log = new AppliedLog();
    const turns: (() => void)[] = [];
    const batcher = new SagaEntryBatcher({
      proposeEntry: log.proposeEntry,
      maxCommands: 2,
      maxBytes: 10_000,
      defer: (flush) => turns.push(flush),
    });
    const answers = [1, 2, 3, 4, 5].map((n) => batcher.propose(start(n)));
    expect(log.entries).toHaveLength(2); // two full entries, the fifth command waits for the turn
    for (const flush of turns) flush();
    await Promise.all(answers);
    expect(log.entries.map((e) => decodeSagaEntry(e)?.length)).toEqual([2, 2, 1]);
    const big = new SagaEntryBatcher({
      proposeEntry: log.proposeEntry,
      maxBytes: 100,
      defer: () => undefined,
    });
    await big.propose(start(6, { text: 'x'.repeat(200) }));
    expect(log.entries).toHaveLength(4);
  });

  it('gives every proposer of an entry that was not applied the same retryable answer', async () => {
    const refused = {
      ok: false,
      code: 'PALISADE_RAFT_NOT_LEADER',
      message: 'not the leader',
      leader: 'b',
    } as const;
    const batcher = new SagaEntryBatcher({ proposeEntry: () => Promise.resolve(refused) });
    expect(await Promise.all([batcher.propose(start(1)), batcher.propose(start(2))])).toEqual([
      refused,
      refused,
    ]);
  });

  it('answers stale for commands the machine did not answer (a malformed entry)', async () => {
    const batcher = new SagaEntryBatcher({
      proposeEntry: () => Promise.resolve({ ok: true, result: [] }),
    });
    expect(await batcher.propose(start(1))).toEqual({
      ok: true,
      result: { applied: false, reason: 'stale' },
    });
  });

  it('rejects every proposer when the node fails to propose', async () => {
    const batcher = new SagaEntryBatcher({
      proposeEntry: () => {
        throw new Error('storage failed');
      },
    });
    const answers = [batcher.propose(start(1)), batcher.propose(start(2))];
    for (const answer of answers) await expect(answer).rejects.toThrow('storage failed');
  });
});
