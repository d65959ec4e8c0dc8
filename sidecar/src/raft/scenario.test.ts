/**
 * Runs every script in testdata/ (see testing/scenario.ts for the language). On a mismatch the
 * failure shows the command, its expected and its actual output; `REWRITE=1` rewrites the
 * scripts with the actual output (review the diff before committing it).
 */
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from './testing/scenario.js';

const directory = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const scripts = readdirSync(directory)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('raft scenarios', () => {
  test('the testdata directory holds scripts', () => {
    expect(scripts.length).toBeGreaterThan(5);
  });

  test.each(scripts)('%s', (file) => {
    const path = join(directory, file);
    const script = readFileSync(path, 'utf8');
    const result = runScenario(script, { electionTick: 10, heartbeatTick: 1 });
    if (process.env['REWRITE'] === '1') {
      writeFileSync(
        path,
        result.rewritten.endsWith('\n') ? result.rewritten : `${result.rewritten}\n`,
      );
      return;
    }
    const report = result.mismatches.map(
      (m) =>
        `${file}:${m.line} > ${m.command}\n--- expected\n${m.expected}\n--- actual\n${m.actual}`,
    );
    expect(report).toEqual([]);
  });
});
