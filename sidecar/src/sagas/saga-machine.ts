/**
 * The saga table as the Raft driver sees it (a `LogMachine`): decodes the entries that are saga
 * commands, applies them, snapshots and restores the table.
 */
import type { EntryPosition, LogMachine } from '../raft-node/log-machine.js';
import { decodeSagaCommand } from './commands.js';
import { SagaTable, type SagaApplyResult } from './saga-table.js';

/** Holds the replica's saga table. */
export class SagaMachine implements LogMachine {
  private current = new SagaTable();
  /** Entries that claimed to be saga commands but were malformed (should stay 0). */
  malformed = 0;

  /** The table now (replaced when a snapshot is restored). */
  get table(): SagaTable {
    return this.current;
  }

  apply(position: EntryPosition, data: Uint8Array): { result: SagaApplyResult } | undefined {
    const command = decodeSagaCommand(data);
    if (command === undefined) return undefined;
    if (command === 'malformed') {
      this.malformed++;
      return { result: { applied: false, reason: 'stale' } };
    }
    return { result: this.current.apply(position, command) };
  }

  snapshot(): Uint8Array {
    return this.current.snapshot();
  }

  restore(data: Uint8Array): void {
    this.current = SagaTable.restore(data);
  }
}
