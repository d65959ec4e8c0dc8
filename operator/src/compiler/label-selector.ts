import type { LabelSelector } from '@palisade/crds';

/** Labels of one object. */
export type Labels = Readonly<Record<string, string>>;

/** One requirement of a selector, normalised (matchLabels become `In` with one value). */
export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** Sorted, distinct; empty for Exists/DoesNotExist. */
  values: readonly string[];
}

/** A selector that passed validation; all requirements must hold (empty: selects everything). */
export interface CompiledSelector {
  requirements: readonly Requirement[];
}

/** Result of compiling a selector: usable, or the reason it is not (for `InvalidSelector`). */
export type SelectorCompileResult =
  { ok: true; selector: CompiledSelector } | { ok: false; message: string };

const NAME_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a valid label key, or undefined when it is (Kubernetes' rules). */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (
    prefix !== undefined &&
    (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN_RE.test(prefix))
  ) {
    return `label key "${key}": prefix must be a DNS subdomain of at most 253 characters`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_RE.test(name)) {
    return `label key "${key}": name must be 1–63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_RE.test(value)) {
    return `label value "${value}": must be at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/**
 * Validates and normalises a LabelSelector with the API server's rules for what the schema
 * alone cannot express: key and value syntax, `In`/`NotIn` need values, `Exists`/`DoesNotExist`
 * take none. A selector whose requirements contradict each other is valid but selects nothing.
 */
export function compileSelector(selector: LabelSelector): SelectorCompileResult {
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem !== undefined) return { ok: false, message: `matchLabels: ${problem}` };
    requirements.push({ key, operator: 'In', values: [value] });
  }
  for (const [i, expr] of (selector.matchExpressions ?? []).entries()) {
    const where = `matchExpressions[${i}]`;
    const keyProblem = labelKeyProblem(expr.key);
    if (keyProblem !== undefined) return { ok: false, message: `${where}: ${keyProblem}` };
    const values = expr.values ?? [];
    if (expr.operator === 'In' || expr.operator === 'NotIn') {
      if (values.length === 0) {
        return {
          ok: false,
          message: `${where}: operator ${expr.operator} needs at least one value`,
        };
      }
      for (const v of values) {
        const p = labelValueProblem(v);
        if (p !== undefined) return { ok: false, message: `${where}: ${p}` };
      }
    } else if (values.length > 0) {
      return { ok: false, message: `${where}: operator ${expr.operator} takes no values` };
    }
    requirements.push({
      key: expr.key,
      operator: expr.operator,
      values: [...new Set(values)].sort(),
    });
  }
  return { ok: true, selector: { requirements } };
}

/** Whether `labels` satisfy one requirement. */
export function requirementMatches(requirement: Requirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
  switch (requirement.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && requirement.values.includes(labels[requirement.key] as string);
    case 'NotIn':
      return !has || !requirement.values.includes(labels[requirement.key] as string);
  }
}

/** Whether `labels` satisfy every requirement (an empty selector matches everything). */
export function selectorMatches(selector: CompiledSelector, labels: Labels): boolean {
  return selector.requirements.every((r) => requirementMatches(r, labels));
}
