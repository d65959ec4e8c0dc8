import { selectorMatches, type CompiledSelector, type Labels } from './label-selector.js';

/**
 * Posting lists of one namespace's pods by label, so that a selector is evaluated against the
 * few pods that can match rather than all of them. Ids are the caller's (ascending insertion
 * order keeps every list sorted).
 */
export class LabelIndex {
  private readonly all: number[] = [];
  private readonly labelsById = new Map<number, Labels>();
  private readonly byKey = new Map<string, number[]>();
  private readonly byKeyValue = new Map<string, Map<string, number[]>>();

  /** Adds an object; ids must be added in ascending order. */
  add(id: number, labels: Labels): void {
    this.all.push(id);
    this.labelsById.set(id, labels);
    for (const [key, value] of Object.entries(labels)) {
      push(this.byKey, key, id);
      let values = this.byKeyValue.get(key);
      if (values === undefined) {
        values = new Map();
        this.byKeyValue.set(key, values);
      }
      push(values, value, id);
    }
  }

  /** Number of indexed objects. */
  get size(): number {
    return this.all.length;
  }

  /** Ids of the objects `selector` selects, ascending. */
  select(selector: CompiledSelector): number[] {
    // Start from the narrowest positive requirement (In or Exists); negative ones
    // (NotIn, DoesNotExist) cannot narrow, so they only filter.
    let candidates: readonly number[] = this.all;
    for (const r of selector.requirements) {
      let posting: readonly number[] | undefined;
      if (r.operator === 'Exists') posting = this.byKey.get(r.key) ?? [];
      else if (r.operator === 'In') posting = this.union(r.key, r.values);
      if (posting !== undefined && posting.length < candidates.length) candidates = posting;
      if (candidates.length === 0) return [];
    }
    if (candidates === this.all && selector.requirements.length === 0) return [...this.all];
    const out: number[] = [];
    for (const id of candidates) {
      if (selectorMatches(selector, this.labelsById.get(id) as Labels)) out.push(id);
    }
    return out;
  }

  private union(key: string, values: readonly string[]): readonly number[] {
    const byValue = this.byKeyValue.get(key);
    if (byValue === undefined) return [];
    if (values.length === 1) return byValue.get(values[0] as string) ?? [];
    const merged: number[] = [];
    for (const v of values) merged.push(...(byValue.get(v) ?? []));
    return merged.sort((a, b) => a - b);
  }
}

function push<K>(map: Map<K, number[]>, key: K, id: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [id]);
  else list.push(id);
}
