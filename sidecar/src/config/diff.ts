/**
 * Which parts of the config changed between two versions, so that each subsystem recompiles
 * only what concerns it. Pure; runs at reload time, never per request.
 */
import type { ResolvedConfig } from './defaults.js';

/** A top-level section of a SidecarConfig (everything but `version`). */
export type ConfigSection = Exclude<keyof ResolvedConfig, 'version'>;

/** Every section, in document order. */
export const CONFIG_SECTIONS: readonly ConfigSection[] = Object.freeze([
  'app',
  'listeners',
  'rateLimits',
  'circuitBreakers',
  'faults',
  'retries',
  'sagas',
  'raft',
  'redis',
  'tracing',
  'logLevel',
]);

/** What a reload changes. `sections` is empty when only `version` moved. */
export interface ConfigChange {
  /** `null` for the first config. */
  readonly previousVersion: string | null;
  readonly version: string;
  readonly sections: readonly ConfigSection[];
}

/**
 * Sections whose content differs (a section present in one and absent in the other differs).
 * Compares values in place (`sameContent`) rather than serialising both sides: a Kubernetes-mode
 * config carries the Raft group's whole peer list (up to every pod of the workload), which a
 * policy change leaves as it was, and serialising it twice per reload was most of a sidecar's
 * CPU for a change (decision 0008).
 */
export function diffConfig(previous: ResolvedConfig | null, next: ResolvedConfig): ConfigChange {
  const sections =
    previous === null
      ? CONFIG_SECTIONS
      : CONFIG_SECTIONS.filter((s) => !sameContent(previous[s], next[s]));
  return {
    previousVersion: previous?.version ?? null,
    version: next.version,
    sections: Object.freeze([...sections]),
  };
}

/** Whether `next` changes nothing at all: the same `version` and no section differs. */
export function isUnchanged(change: ConfigChange): boolean {
  return change.previousVersion === change.version && change.sections.length === 0;
}

/**
 * Whether two JSON values have the same content — exactly when their `canonicalJson` is equal
 * (key order ignored, keys holding `undefined` absent, `undefined` elsewhere read as `null`) —
 * without building either string. Stops at the first difference.
 */
export function sameContent(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === undefined || b === null)
    return (a === undefined || a === null) && (b === undefined || b === null);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameContent(a[i], b[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let defined = 0;
  for (const key of Object.keys(left)) {
    const value = left[key];
    if (value === undefined) continue;
    defined++;
    if (right[key] === undefined || !sameContent(value, right[key])) return false;
  }
  for (const key of Object.keys(right)) if (right[key] !== undefined) defined--;
  return defined === 0;
}

/** JSON with object keys sorted, so that key order never counts as a change. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
