import type { ObjectLike } from '../informer/object-key.js';
import type { InformerEvent } from '../informer/resource-informer.js';
import type { EventSource } from '../operator.js';

/**
 * An informer stand-in over state the test owns (usually a FakeKubeApi store): `emit` plays a
 * watch event; it syncs when started, or when `sync()` is called if `manualSync`.
 */
export class FakeSource implements EventSource {
  private readonly handlers: ((event: InformerEvent<ObjectLike>) => void)[] = [];
  private synced = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly lister: (namespace?: string) => readonly ObjectLike[],
    private readonly manualSync = false,
  ) {}

  onEvent(handler: (event: InformerEvent<ObjectLike>) => void): void {
    this.handlers.push(handler);
  }

  list(namespace?: string): readonly ObjectLike[] {
    return this.lister(namespace);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  whenSynced(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  async start(): Promise<void> {
    if (!this.manualSync) this.sync();
  }

  async stop(): Promise<void> {}

  /** Completes the first list: announces every object, then reports synced. */
  sync(): void {
    for (const object of this.lister()) this.emit('add', object);
    this.synced = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Plays one watch event. */
  emit(type: InformerEvent<ObjectLike>['type'], object: ObjectLike): void {
    for (const h of this.handlers) h({ type, object });
  }
}
