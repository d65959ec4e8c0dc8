import { objectKey, type ObjectLike } from './object-key.js';

/** A change to a cached object, as an informer reports it. */
export type StoreEvent<T> =
  | { type: 'add'; object: T }
  | { type: 'update'; object: T; old: T }
  | { type: 'delete'; object: T };

/**
 * An in-memory cache of objects by namespace and name, with the list-then-watch semantics of
 * an informer cache: `replace` (a full list) reports adds, updates and deletes relative to
 * what was cached; `apply` takes one watch event. Pure: usable in tests as the state behind a
 * fake API, and the model the real informer's cache follows.
 */
export class ObjectStore<T extends ObjectLike> {
  private readonly byNamespace = new Map<string, Map<string, T>>();

  /** The object `namespace/name` (namespace '' for cluster-scoped), if cached. */
  get(name: string, namespace = ''): T | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  /** Cached objects of `namespace`, or of all namespaces; sorted by key. */
  list(namespace?: string): T[] {
    const maps =
      namespace === undefined
        ? [...this.byNamespace.values()]
        : [this.byNamespace.get(namespace) ?? new Map<string, T>()];
    return maps.flatMap((m) => [...m.values()]).sort((a, b) => cmp(objectKey(a), objectKey(b)));
  }

  /** Number of cached objects. */
  get size(): number {
    let n = 0;
    for (const m of this.byNamespace.values()) n += m.size;
    return n;
  }

  /** Adds or replaces one object; reports what happened. */
  upsert(object: T): StoreEvent<T> {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    let map = this.byNamespace.get(namespace);
    if (map === undefined) {
      map = new Map();
      this.byNamespace.set(namespace, map);
    }
    const old = map.get(name);
    map.set(name, object);
    return old === undefined ? { type: 'add', object } : { type: 'update', object, old };
  }

  /** Removes one object; reports the delete, or nothing when it was not cached. */
  remove(object: ObjectLike): StoreEvent<T> | undefined {
    const namespace = object.metadata?.namespace ?? '';
    const map = this.byNamespace.get(namespace);
    const old = map?.get(object.metadata?.name ?? '');
    if (map === undefined || old === undefined) return undefined;
    map.delete(object.metadata?.name ?? '');
    if (map.size === 0) this.byNamespace.delete(namespace);
    return { type: 'delete', object: old };
  }

  /** Replaces the whole content with a fresh list (a relist); reports the differences. */
  replace(objects: readonly T[]): StoreEvent<T>[] {
    const fresh = new Set(objects.map(objectKey));
    const events: StoreEvent<T>[] = [];
    for (const old of this.list()) {
      if (!fresh.has(objectKey(old))) events.push(this.remove(old) as StoreEvent<T>);
    }
    for (const o of objects) events.push(this.upsert(o));
    return events;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
