import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ADMIN_HOST, DEFAULT_LISTENERS } from './defaults.js';
import { ConfigError } from './errors.js';
import {
  hashContent,
  loadConfigFile,
  parseConfigText,
  validateConfigDocument,
} from './load-config.js';

const example = fileURLToPath(
  new URL('../../../crds/examples/sidecar-config.yaml', import.meta.url),
);
const minimal = { version: 'v1', app: { host: '127.0.0.1', port: 8080 } };

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-config-'));
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfigFile', () => {
  it('loads the crds example, resolved and frozen, with the hash of its bytes', async () => {
    const loaded = await loadConfigFile(example);
    expect(loaded.config.version).toBe('7f3a9c');
    expect(loaded.config.listeners).toEqual({ adminHost: ADMIN_HOST, ...DEFAULT_LISTENERS });
    expect(loaded.config.rateLimits[0]?.name).toBe('per-user-orders');
    expect(loaded.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.isFrozen(loaded.config.rateLimits[0]?.limit)).toBe(true);
  });

  it('applies defaults to a minimal document', () => {
    const config = validateConfigDocument(minimal);
    expect(config.listeners).toEqual({
      adminHost: '127.0.0.1',
      admin: 15000,
      inbound: 15006,
      outbound: 15001,
      raft: 15010,
    });
    expect(config.rateLimits).toEqual([]);
    expect(config.tracing).toEqual({ sampleRatio: 0 });
    expect(config.logLevel).toBe('info');
  });

  it('resolves to a copy frozen all through, leaving the document as it was', () => {
    const document = {
      ...minimal,
      raft: {
        group: 'shop/app',
        id: 'a',
        peers: [{ id: 'a', address: '10.0.0.1:15010', voter: true }],
      },
    };
    const before = JSON.stringify(document);
    const config = validateConfigDocument(document);
    for (const part of [
      config,
      config.listeners,
      config.rateLimits,
      config.tracing,
      config.raft,
      config.raft?.peers,
      config.raft?.peers[0],
    ])
      expect(Object.isFrozen(part)).toBe(true);
    expect(Object.isFrozen(document.raft.peers[0])).toBe(false);
    expect(config.raft?.peers[0]).not.toBe(document.raft.peers[0]);
    expect(JSON.stringify(document)).toBe(before);
  });

  it('reads JSON files as JSON', async () => {
    const path = await tempFile('sidecar.json', JSON.stringify(minimal));
    const loaded = await loadConfigFile(path);
    expect(loaded.config.app.port).toBe(8080);
    expect(loaded.contentHash).toBe(hashContent(JSON.stringify(minimal)));
  });

  it('lists every schema violation as field: message', async () => {
    const path = await tempFile(
      'bad.yaml',
      'version: v1\napp: {host: 127.0.0.1, port: 70000}\ntracing: {sampleRatio: 2}\nbogus: 1\n',
    );
    const error = await loadConfigFile(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const ce = error as ConfigError;
    expect(ce.code).toBe('CONFIG_INVALID');
    expect(ce.source).toBe(path);
    const fields = ce.errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['app.port', 'tracing.sampleRatio', 'bogus']));
    expect(ce.message).toContain('app.port: should be less than or equal to 65535');
  });

  it('refuses a missing file with CONFIG_READ_FAILED', async () => {
    await expect(loadConfigFile('/nonexistent/palisade.yaml')).rejects.toMatchObject({
      code: 'CONFIG_READ_FAILED',
    });
  });
});

describe('parseConfigText', () => {
  it('refuses malformed YAML with the line', () => {
    const error = configError(() => parseConfigText('version: [unclosed\napp: 1\n'));
    expect(error.code).toBe('CONFIG_PARSE_FAILED');
    expect(error.errors[0]?.field).toMatch(/^line \d+:\d+$/);
  });

  it('refuses several documents and empty input', () => {
    expect(configError(() => parseConfigText('a: 1\n---\nb: 2\n')).message).toContain('found 2');
    expect(configError(() => parseConfigText('')).message).toContain('found none');
  });

  it('refuses duplicate keys', () => {
    expect(configError(() => parseConfigText('a: 1\na: 2\n')).code).toBe('CONFIG_PARSE_FAILED');
  });

  it('refuses an alias bomb', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    ].join('\n');
    expect(configError(() => parseConfigText(bomb)).code).toBe('CONFIG_PARSE_FAILED');
  });

  it('refuses malformed JSON', () => {
    expect(configError(() => parseConfigText('{"a":', 'json')).code).toBe('CONFIG_PARSE_FAILED');
  });
});

describe('cross-field rules', () => {
  it('refuses two listeners on one port', () => {
    const error = configError(() =>
      validateConfigDocument({ ...minimal, listeners: { admin: 16000, raft: 16000 } }),
    );
    expect(error.errors).toEqual([
      { field: 'listeners.raft', message: 'port 16000 is already used by listeners.admin' },
    ]);
  });

  it('refuses an app on loopback at the sidecar inbound port (a proxy loop)', () => {
    const error = configError(() =>
      validateConfigDocument({ ...minimal, app: { host: 'localhost', port: 15006 } }),
    );
    expect(error.errors[0]?.field).toBe('app.port');
    expect(error.errors[0]?.message).toContain('inbound listener (default)');
  });

  it('refuses duplicate rate-limit rules and raft peers', () => {
    const rule = {
      policy: 'shop/limits',
      name: 'orders',
      match: { pathPrefix: '/' },
      limit: { requests: 1, period: '1s' },
      key: { type: 'global' },
      scope: 'local',
    };
    const peer = { id: 'a', address: '10.0.0.1:15010', voter: true };
    const error = configError(() =>
      validateConfigDocument({
        ...minimal,
        rateLimits: [rule, rule],
        raft: { group: 'shop/orders', id: 'a', peers: [peer, peer] },
      }),
    );
    expect(error.errors.map((e) => e.field)).toEqual(['rateLimits[1]', 'raft.peers[1]']);
  });
});

describe('validating against the config in force', () => {
  const peers = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      id: `app-${i}`,
      address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:15010`,
      voter: i < 5,
    }));
  const withRaft = (list: unknown[], extra: Record<string, unknown> = {}) => ({
    ...minimal,
    ...extra,
    raft: { group: 'shop/app', id: 'app-1', peers: list },
  });
  const inForce = validateConfigDocument(withRaft(peers(1000)));

  it('reuses the peer list in force when the document carries the same one', () => {
    const document = withRaft(peers(1000), { version: 'v2', logLevel: 'debug' });
    const next = validateConfigDocument(document, 'next', inForce);
    expect(next.raft?.peers).toBe(inForce.raft?.peers);
    expect(next).toEqual(validateConfigDocument(document));
    expect(Object.isFrozen(next) && Object.isFrozen(next.raft)).toBe(true);
    expect(document.raft.peers).toHaveLength(1000); // the document is left as it was
  });

  it('still checks everything else of such a document', () => {
    const error = configError(() =>
      validateConfigDocument(
        withRaft(peers(1000), { app: { host: '127.0.0.1', port: 0 } }),
        'x',
        inForce,
      ),
    );
    expect(error.errors.map((e) => e.field)).toEqual(['app.port']);
  });

  it('checks a peer list that differs from the one in force, however little', () => {
    const bad = peers(1000);
    bad[3] = { ...bad[3]!, address: 'no port' };
    expect(
      configError(() => validateConfigDocument(withRaft(bad), 'x', inForce)).errors[0]?.field,
    ).toBe('raft.peers[3].address');
    const twice = peers(1000);
    twice[999] = { ...twice[0]! };
    expect(
      configError(() => validateConfigDocument(withRaft(twice), 'x', inForce)).errors[0]?.field,
    ).toBe('raft.peers[999]');
    const moved = peers(1000);
    moved[999] = { ...moved[999]!, address: '10.9.9.9:15010' };
    const next = validateConfigDocument(withRaft(moved), 'x', inForce);
    expect(next.raft?.peers).not.toBe(inForce.raft?.peers);
    expect(next.raft?.peers[999]?.address).toBe('10.9.9.9:15010');
  });
});

describe('fuzzing the loader', () => {
  // Kept corpus: inputs that once needed care (YAML tags, anchors, deep nesting, odd scalars).
  // Add a file here for every input a fuzz run ever found interesting (`.txt`: byte-exact,
  // formatters leave it alone).
  const corpusDir = fileURLToPath(new URL('./testdata/fuzz-corpus/', import.meta.url));

  const expectedCorpusOutcomes: Record<string, string> = {
    'binary-tag.txt': 'CONFIG_INVALID',
    'bom.txt': 'ok',
    'complex-key.txt': 'CONFIG_INVALID',
    'deep-nesting.txt': 'CONFIG_PARSE_FAILED',
    'directive.txt': 'CONFIG_INVALID',
    'duplicate-key.txt': 'CONFIG_PARSE_FAILED',
    'empty-host-zero-port.txt': 'CONFIG_INVALID',
    'js-function-tag.txt': 'CONFIG_INVALID',
    'nan-ratio.txt': 'CONFIG_INVALID',
    'null-section.txt': 'CONFIG_INVALID',
    'number-version-fractional-port.txt': 'CONFIG_INVALID',
    'port-clash-with-listener.txt': 'CONFIG_INVALID',
    'self-alias.txt': 'CONFIG_INVALID',
  };

  function outcome(text: string, format: 'yaml' | 'json'): string {
    try {
      validateConfigDocument(parseConfigText(text, format));
      return 'ok';
    } catch (error) {
      if (error instanceof ConfigError) return error.code;
      throw error; // anything else is a bug: the loader must only ever throw ConfigError
    }
  }

  it('the kept corpus only ever yields a config or a ConfigError', async () => {
    const files = await readdir(corpusDir);
    const outcomes: Record<string, string> = {};
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = await readFile(join(corpusDir, file), 'utf8');
      outcomes[file] = outcome(text, 'yaml');
    }
    expect(outcomes).toEqual(expectedCorpusOutcomes);
  });

  it('arbitrary text only ever yields a config or a ConfigError', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.constantFrom('yaml' as const, 'json' as const),
        (text, format) => {
          outcome(text, format);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('arbitrary JSON values only ever yield a config or a ConfigError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        outcome(JSON.stringify(value), 'json');
        outcome(JSON.stringify(value), 'yaml');
      }),
      { numRuns: 500 },
    );
  });

  it('mutations of a valid document only ever yield a config or a ConfigError', () => {
    const base = { ...minimal, listeners: { admin: 15000 }, tracing: { sampleRatio: 0.5 } };
    fc.assert(
      fc.property(
        fc.constantFrom('version', 'app', 'listeners', 'tracing', 'rateLimits', 'raft', 'logLevel'),
        fc.anything({ maxDepth: 3 }),
        (key, value) => {
          const document = { ...base, [key]: value };
          let text: string;
          try {
            text = JSON.stringify(document);
          } catch {
            return; // BigInt and friends are not documents
          }
          if (text === undefined) return;
          outcome(text, 'json');
        },
      ),
      { numRuns: 500 },
    );
  });
});
