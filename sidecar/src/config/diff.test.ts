import { describe, expect, it } from '@jest/globals';
import { canonicalJson, CONFIG_SECTIONS, diffConfig, hashConfig } from './diff.js';
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
    expect(hashConfig(a)).toBe(hashConfig(b));
  });
});

describe('canonicalJson', () => {
  it('ignores key order but not array order', () => {
    expect(canonicalJson({ b: 1, a: [1, 2] })).toBe(canonicalJson({ a: [1, 2], b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});
