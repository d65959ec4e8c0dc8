/**
 * The reflector's cache of the namespace's config ConfigMaps, pure: a full list replaces it,
 * each watch event updates it, and the resourceVersion to resume from moves with every event
 * (bookmarks included). Knows nothing about sockets or timers.
 */
import { toConfigMapView, type ConfigMapView } from './select-config.js';

/** What one watch event did. */
export type WatchEventOutcome =
  /** The cached objects changed: selection must be re-run. */
  | { readonly kind: 'changed' }
  /** Only the resume point moved (bookmark), or the object was unusable. */
  | { readonly kind: 'unchanged' }
  /** 410 Gone: the resume point is too old; the caller must relist. */
  | { readonly kind: 'expired' }
  /** The server reported another error in the stream. */
  | { readonly kind: 'error'; readonly message: string };

/** Cached objects by name, and the resourceVersion a watch resumes from. */
export class ConfigMapCache {
  private readonly objects = new Map<string, ConfigMapView>();
  private version: string | null = null;

  /** The resourceVersion to watch from; `null` before the first list or after expiry. */
  get resourceVersion(): string | null {
    return this.version;
  }

  /** The cached objects. */
  values(): Iterable<ConfigMapView> {
    return this.objects.values();
  }

  /** Number of cached objects. */
  get size(): number {
    return this.objects.size;
  }

  /** Replaces everything with a full list taken at `resourceVersion`. */
  replace(items: readonly unknown[], resourceVersion: string): void {
    this.objects.clear();
    for (const item of items) {
      const view = toConfigMapView(item);
      if (view !== null) this.objects.set(view.name, view);
    }
    this.version = resourceVersion;
  }

  /** Forgets the resume point (after 410 Gone): the next step is a full list. */
  expire(): void {
    this.version = null;
  }

  /** Applies one watch event (`type` as the API server sends it). */
  apply(type: string, object: unknown): WatchEventOutcome {
    if (type === 'ERROR') {
      const status = (object ?? {}) as { code?: unknown; message?: unknown };
      if (status.code === 410) {
        this.expire();
        return { kind: 'expired' };
      }
      return {
        kind: 'error',
        message: `watch error ${String(status.code)}: ${String(status.message ?? 'no message')}`,
      };
    }
    const resourceVersion = (object as { metadata?: { resourceVersion?: unknown } } | null)
      ?.metadata?.resourceVersion;
    if (typeof resourceVersion === 'string' && resourceVersion !== '')
      this.version = resourceVersion;
    if (type === 'BOOKMARK') return { kind: 'unchanged' };
    const view = toConfigMapView(object);
    if (view === null) return { kind: 'unchanged' };
    if (type === 'DELETED') {
      return this.objects.delete(view.name) ? { kind: 'changed' } : { kind: 'unchanged' };
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') return { kind: 'unchanged' };
    this.objects.set(view.name, view);
    return { kind: 'changed' };
  }
}
