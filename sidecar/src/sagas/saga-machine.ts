/**
 * The saga table as the Raft driver sees it (a `LogMachine`): decodes the entries that are saga
 * entries, applies their commands in order, snapshots and restores the table.
 */
import type { EntryPosition, LogMachine } from '../raft-node/log-machine.js';
import { decodeSagaEntry } from './commands.js';
import { SagaTable, type SagaApplyResult } from './saga-table.js';

/** Holds the replica's saga table. */
export class SagaMachine implements LogMachine {
  private current = new SagaTable();
  /** Entries that claimed to be saga entries but were malformed (should stay 0). */
  malformed = 0;

  /** The table now (replaced when a snapshot is restored). */
  get table(): SagaTable {
    return this.current;
  }

  /**
   * Applies a saga entry's commands in order: one result per command (none for a malformed
   * entry, whose commands are all refused).
   */
  apply(
    position: EntryPosition,
    data: Uint8Array,
  ): { result: readonly SagaApplyResult[] } | undefined {
    const commands = decodeSagaEntry(data);
    if (commands === undefined) return undefined;
    if (commands === 'malformed') {
      this.malformed++;
      return { result: [] };
    }
    return { result: commands.map((command) => this.current.apply(position, command)) };
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }

  restore(data: Uint8Array): void {
    this.current = SagaTable.restore(data);
  }
}
