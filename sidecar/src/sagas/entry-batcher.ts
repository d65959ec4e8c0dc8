/**
 * Gathers the saga commands the leader proposes during one event-loop turn (starts, outcomes,
 * retries of any instances) into one Raft entry, and hands each proposer its own command's result.
 *
 * Why: a successful three-step instance needs four commits (intent before each call, outcome
 * after), and with many instances under way each turn produces several commands. One entry per
 * turn instead of one per command means one log record, one waiter and one timer per turn on the
 * leader, and one decode per turn on every replica. The guarantees are those of each command:
 * it is applied when the entry commits, in the order proposed; if the entry does not commit,
 * every proposer in it hears the same retryable error.
 *
 * An entry is sealed early when it reaches `maxCommands` or `maxBytes` (entries stay far below
 * the transport's frame bound).
 */
import type { EntryReply } from '../raft-node/index.js';
import { SagaEntryBuilder, type SagaCommand } from './commands.js';
import type { SagaProposal } from './orchestrator.js';
import type { SagaApplyResult } from './saga-table.js';

/** Options of {@link SagaEntryBatcher}. */
export interface SagaEntryBatcherOptions {
  /** Leader only: appends an entry, resolves with what the saga machine returned for it. */
  readonly proposeEntry: (data: Uint8Array) => Promise<EntryReply>;
  /** Commands per entry at most. Default 256. */
  readonly maxCommands?: number;
  /** JSON characters per entry at most (one command may exceed it alone). Default 1 MiB. */
  readonly maxBytes?: number;
  /** Runs `flush` once the current turn's I/O callbacks ran. Default `setImmediate`. */
  readonly defer?: (flush: () => void) => void;
}

interface Waiter {
  resolve(proposal: SagaProposal): void;
  reject(error: unknown): void;
}

interface Batch {
  readonly builder: SagaEntryBuilder;
  readonly waiters: Waiter[];
}

/** A command the machine did not answer for (malformed entry): refused, like a stale command. */
const UNANSWERED: SagaApplyResult = { applied: false, reason: 'stale' };

/** Batches saga proposals into entries; see the module comment. */
export class SagaEntryBatcher {
  private batch: Batch | undefined;
  private readonly maxCommands: number;
  private readonly maxBytes: number;
  private readonly defer: (flush: () => void) => void;

  constructor(private readonly options: SagaEntryBatcherOptions) {
    this.maxCommands = options.maxCommands ?? 256;
    this.maxBytes = options.maxBytes ?? 1024 * 1024;
    this.defer = options.defer ?? ((flush) => setImmediate(flush));
  }

  /** Proposes `command` in the current turn's entry; resolves once that entry applied here. */
  propose(command: SagaCommand): Promise<SagaProposal> {
    let batch = this.batch;
    if (batch === undefined) {
      batch = { builder: new SagaEntryBuilder(), waiters: [] };
      this.batch = batch;
      const scheduled = batch;
      this.defer(() => {
        if (this.batch === scheduled) this.flush();
      });
    }
    batch.builder.add(command);
    const answer = new Promise<SagaProposal>((resolve, reject) =>
      batch.waiters.push({ resolve, reject }),
    );
    if (batch.builder.count >= this.maxCommands || batch.builder.size >= this.maxBytes)
      this.flush();
    return answer;
  }

  private flush(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    let reply: Promise<EntryReply>;
    try {
      reply = this.options.proposeEntry(batch.builder.build());
    } catch (error) {
      reply = Promise.reject(error);
    }
    reply.then(
      (answer) => {
        if (!answer.ok) {
          for (const waiter of batch.waiters) waiter.resolve(answer);
          return;
        }
        const results = answer.result as readonly SagaApplyResult[];
        batch.waiters.forEach((waiter, i) =>
          waiter.resolve({ ok: true, result: results[i] ?? UNANSWERED }),
        );
      },
      // Not a refusal (those are answers) but a failure of the node: every proposer hears it.
      (error: unknown) => {
        for (const waiter of batch.waiters) waiter.reject(error);
      },
    );
  }
}
