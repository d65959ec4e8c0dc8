/**
 * Which parts of the config changed between two versions, so that each subsystem recompiles
 * only what concerns it. Pure; runs at reload time, never per request.
 */
import { createHash } from 'node:crypto';
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

/** Sections whose content differs (a section present in one and absent in the other differs). */
export function diffConfig(previous: ResolvedConfig | null, next: ResolvedConfig): ConfigChange {
  const sections =
    previous === null
      ? CONFIG_SECTIONS
      : CONFIG_SECTIONS.filter((s) => canonicalJson(previous[s]) !== canonicalJson(next[s]));
  return {
    previousVersion: previous?.version ?? null,
    version: next.version,
    sections: Object.freeze([...sections]),
  };
}

/** Hex SHA-256 of the canonical JSON of a resolved config: equal content, equal hash. */
export function hashConfig(config: ResolvedConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
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
