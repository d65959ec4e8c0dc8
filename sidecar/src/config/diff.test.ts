import { describe, expect, it } from '@jest/globals';
import { canonicalJson, CONFIG_SECTIONS, diffConfig, isUnchanged, sameContent } from './diff.js';
import { validateConfigDocument } from './load-config.js';

const base = { version: 'v1', app: { host: '127.0.0.1', port: 8080 } };

describe('diffConfig', () => {
  it('names every section for the first config', () => {
    expect(diffConfig(null, validateConfigDocument(base)).sections).toEqual(CONFIG_SECTIONS);
  });

  it('names only the sections whose content changed', () => {
    const a = validateConfigDocument(base);
    const b = validateConfigDocument({
      ...base,
      version: 'v2',
      tracing: { sampleRatio: 0.1 },
      logLevel: 'debug',
    });
    const change = diffConfig(a, b);
    expect(change).toEqual({
      previousVersion: 'v1',
      version: 'v2',
      sections: ['tracing', 'logLevel'],
    });
  });

  it('treats a default written out as no change', () => {
    const a = validateConfigDocument(base);
    const b = validateConfigDocument({ ...base, listeners: { admin: 15000 }, logLevel: 'info' });
    expect(diffConfig(a, b).sections).toEqual([]);
    expect(isUnchanged(diffConfig(a, b))).toBe(true);
  });

  it('counts a new version alone as a change, with no section to recompile', () => {
    const a = validateConfigDocument(base);
    const b = validateConfigDocument({ ...base, version: 'v2' });
    expect(diffConfig(a, b).sections).toEqual([]);
    expect(isUnchanged(diffConfig(a, b))).toBe(false);
  });

  it('sees one changed peer among a thousand', () => {
    const peers = Array.from({ length: 1000 }, (_, i) => ({
      id: `app-${i}`,
      address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:15010`,
      voter: i < 5,
    }));
    const raft = { group: 'shop/app', id: 'app-0', peers };
    const a = validateConfigDocument({ ...base, raft });
    const moved = peers.map((p, i) => (i === 999 ? { ...p, address: '10.9.9.9:15010' } : p));
    const b = validateConfigDocument({ ...base, raft: { ...raft, peers: moved } });
    const c = validateConfigDocument({ ...base, raft: { ...raft, peers: [...peers] } });
    expect(diffConfig(a, b).sections).toEqual(['raft']);
    expect(diffConfig(a, c).sections).toEqual([]);
  });
});

describe('sameContent', () => {
  // Every pair is compared both ways, and must agree with comparing canonical JSON.
  const pairs: [unknown, unknown][] = [
    [
      { a: 1, b: [1, { c: 'x' }] },
      { b: [1, { c: 'x' }], a: 1 },
    ],
    [{ a: 1 }, { a: 1, b: undefined }],
    [{ a: null }, {}],
    [{ a: null }, { a: undefined }],
    [[undefined], [null]],
    [undefined, null],
    [
      [1, 2],
      [2, 1],
    ],
    [[1, 2], { 0: 1, 1: 2 }],
    [{}, []],
    [{ a: 1 }, { a: '1' }],
    [{ a: { b: 1 } }, { a: { b: 1, c: 2 } }],
    [
      { a: 1, b: 2 },
      { a: 1, c: 2 },
    ],
    [0, false],
    ['', null],
  ];
  it.each(pairs)('compares %j and %j as canonical JSON does', (a, b) => {
    const expected = canonicalJson(a) === canonicalJson(b);
    expect(sameContent(a, b)).toBe(expected);
    expect(sameContent(b, a)).toBe(expected);
  });
});

describe('canonicalJson', () => {
  it('ignores key order but not array order', () => {
    expect(canonicalJson({ b: 1, a: [1, 2] })).toBe(canonicalJson({ a: [1, 2], b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});
