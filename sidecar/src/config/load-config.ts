/**
 * Reading a SidecarConfig: bytes → document (YAML, or JSON for `.json` files) → schema and
 * cross-field validation → `ResolvedConfig`. Every failure is a `ConfigError` naming the fields.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import {
  validateSidecarConfig,
  type FieldError,
  type RaftPeer,
  type SidecarConfig,
} from '@palisade/crds/runtime';
import type * as Yaml from 'yaml';
import { resolveConfig, type ResolvedConfig } from './defaults.js';
import { sameContent } from './diff.js';
import { ConfigError } from './errors.js';
import { sagaConfigErrors } from '../sagas/definition.js';

const loadCommonJs = createRequire(import.meta.url);

/** Files larger than this are refused before being read (a SidecarConfig is kilobytes). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** A config read from a file: the resolved document and the SHA-256 of the file's bytes. */
export interface LoadedConfig {
  readonly config: ResolvedConfig;
  /** Hex SHA-256 of the raw content; the watcher compares it to skip unchanged files. */
  readonly contentHash: string;
  readonly path: string;
}

/** Hex SHA-256 of a file's content. */
export function hashContent(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Parses YAML (or JSON when `format` is `json`) into a plain value. Refuses several documents
 * in one stream, duplicate keys, and alias bombs (the `yaml` package's alias limit).
 */
export function parseConfigText(
  text: string,
  format: 'yaml' | 'json' = 'yaml',
  source?: string,
): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new ConfigError('CONFIG_PARSE_FAILED', `${source ?? 'config'}: not valid JSON`, [], {
        cause,
        source,
      });
    }
  }
  // Loaded on first use: in a pod (JSON from the operator's ConfigMaps) and with `.json` files
  // the YAML parser is never needed, and it stays out of the resident set (decision 0019).
  const { parseAllDocuments } = loadCommonJs('yaml') as typeof Yaml;
  const documents = parseAllDocuments(text, {
    prettyErrors: true,
    uniqueKeys: true,
    logLevel: 'error', // warnings (odd tags, complex keys) stay in the document, not on stderr
  });
  if (documents.length !== 1) {
    throw new ConfigError(
      'CONFIG_PARSE_FAILED',
      `${source ?? 'config'}: expected exactly one YAML document, found ${documents.length === 0 ? 'none' : documents.length}`,
      [],
      { source },
    );
  }
  const document = documents[0]!;
  if (document.errors.length > 0) {
    const errors = document.errors.map((e) => ({
      field: e.linePos?.[0] ? `line ${e.linePos[0].line}:${e.linePos[0].col}` : '(document)',
      message: e.message.split('\n')[0] ?? e.code,
    }));
    throw new ConfigError('CONFIG_PARSE_FAILED', `${source ?? 'config'}: not valid YAML`, errors, {
      cause: document.errors[0],
      source,
    });
  }
  try {
    return document.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (cause) {
    throw new ConfigError(
      'CONFIG_PARSE_FAILED',
      `${source ?? 'config'}: ${(cause as Error).message}`,
      [],
      { cause, source },
    );
  }
}

/**
 * Validates a parsed document against the SidecarConfig schema and the rules the schema cannot
 * express (distinct listener ports, no proxying into ourselves, unique names that become metric
 * labels), then applies defaults.
 *
 * `inForce`, the config in force, makes a reload cheaper: a Kubernetes-mode document carries its
 * Raft group's whole peer list (every pod of the workload), which a policy change leaves as it
 * was. When the document's `raft.peers` has the same content as the list in force — validated
 * when that config was, and checked by nothing but its own schema and duplicate rule — it is
 * neither validated nor copied again: the frozen list in force is reused, so that the diff also
 * finds it unchanged at once (decision 0008).
 */
export function validateConfigDocument(
  document: unknown,
  source?: string,
  inForce?: ResolvedConfig,
): ResolvedConfig {
  const knownPeers = peersInForce(document, inForce);
  const checked = knownPeers === undefined ? document : withPeers(document as DocumentWithRaft, []);
  const result = validateSidecarConfig(checked);
  if (!result.ok) {
    throw new ConfigError('CONFIG_INVALID', `${source ?? 'config'} is invalid`, result.errors, {
      source,
    });
  }
  const resolved = resolveConfig(result.value);
  const errors = crossFieldErrors(result.value, resolved);
  if (errors.length > 0) {
    throw new ConfigError('CONFIG_INVALID', `${source ?? 'config'} is invalid`, errors, {
      source,
    });
  }
  return knownPeers === undefined
    ? resolved
    : Object.freeze(withPeers(resolved as DocumentWithRaft, knownPeers) as ResolvedConfig);
}

/** A document whose `raft` is an object (whatever else it holds). */
type DocumentWithRaft = Record<string, unknown> & { raft: Record<string, unknown> };

/** `inForce`'s frozen peer list when `document.raft.peers` has the same content, else undefined. */
function peersInForce(
  document: unknown,
  inForce: ResolvedConfig | undefined,
): readonly RaftPeer[] | undefined {
  const known = inForce?.raft?.peers;
  if (known === undefined || typeof document !== 'object' || document === null) return undefined;
  const raft = (document as { raft?: unknown }).raft;
  if (typeof raft !== 'object' || raft === null || Array.isArray(raft)) return undefined;
  return sameContent((raft as { peers?: unknown }).peers, known) ? known : undefined;
}

/** A shallow copy of `document` with `raft.peers` replaced (the input is left as it was). */
function withPeers(document: DocumentWithRaft, peers: readonly RaftPeer[]): DocumentWithRaft {
  return { ...document, raft: Object.freeze({ ...document.raft, peers }) };
}

/** Reads, parses and validates a config file. Throws `ConfigError`. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  const content = await readConfigFile(path);
  const config = validateConfigDocument(parseConfigText(content, formatOf(path), path), path);
  return { config, contentHash: hashContent(content), path };
}

/** Reads a config file as UTF-8, refusing anything larger than `MAX_CONFIG_BYTES`. */
export async function readConfigFile(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_CONFIG_BYTES) {
      throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes (${info.size})`);
    }
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      'CONFIG_READ_FAILED',
      `cannot read ${path}: ${(cause as Error).message}`,
      [],
      { cause, source: path },
    );
  }
}

/** `json` for `.json` files, otherwise `yaml` (which also reads JSON). */
export function formatOf(path: string): 'yaml' | 'json' {
  return extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function crossFieldErrors(raw: SidecarConfig, config: ResolvedConfig): FieldError[] {
  const errors: FieldError[] = [];
  const ports = new Map<number, 'admin' | 'inbound' | 'outbound' | 'raft'>();
  for (const name of ['admin', 'inbound', 'outbound', 'raft'] as const) {
    const port = config.listeners[name];
    const other = ports.get(port);
    if (other !== undefined) {
      errors.push({
        field: `listeners.${name}`,
        message: `port ${port} is already used by listeners.${other}`,
      });
    } else ports.set(port, name);
  }
  if (LOOPBACK_HOSTS.has(config.app.host.toLowerCase())) {
    const listener = ports.get(config.app.port);
    if (listener !== undefined) {
      errors.push({
        field: 'app.port',
        message: `port ${config.app.port} is the sidecar's own ${listener} listener${raw.listeners?.[listener] === undefined ? ' (default)' : ''}`,
      });
    }
  }
  duplicates(config.rateLimits, (r) => `${r.policy}/${r.name}`, 'rateLimits', errors);
  duplicates(config.sagas, (s) => s.name, 'sagas', errors);
  errors.push(...sagaConfigErrors(config.sagas));
  duplicates(config.raft?.peers ?? [], (p) => p.id, 'raft.peers', errors);
  return errors;
}

function duplicates<T>(
  items: readonly T[],
  key: (item: T) => string,
  field: string,
  errors: FieldError[],
): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) {
      errors.push({
        field: `${field}[${index}]`,
        message: `duplicates ${field}[${first}] (${k})`,
      });
    } else seen.set(k, index);
  });
}
