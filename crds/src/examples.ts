import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** An example manifest from crds/examples/. */
export interface Example {
  file: string;
  /** The raw text, as `kubectl apply -f` would read it. */
  text: string;
  document: unknown;
  /** For invalid examples: the field the refusal must name. */
  expectField?: string;
  /** For invalid examples: text the refusal must contain. */
  expectMessage?: string;
}

/** crds/examples, found from this module's location (src/ or dist/). */
export const examplesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples');

/** Loads the valid (`crds/examples/*.yaml`) or invalid (`crds/examples/invalid/*.yaml`) examples. */
export function loadExamples(kind: 'valid' | 'invalid'): Example[] {
  const dir = kind === 'valid' ? examplesDir : join(examplesDir, 'invalid');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const text = readFileSync(file, 'utf8');
      return {
        file,
        text,
        document: parse(text) as unknown,
        expectField: /^# expect-field: (.+)$/m.exec(text)?.[1]?.trim(),
        expectMessage: /^# expect-message: (.+)$/m.exec(text)?.[1]?.trim(),
      };
    });
}
