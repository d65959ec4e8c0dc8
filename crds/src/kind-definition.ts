import type { TSchema } from '@sinclair/typebox';

/** A printer column of `kubectl get`. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything needed to generate one CustomResourceDefinition and validate its objects. */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: PrinterColumn[];
}

/** The API group of every Palisade kind. */
export const GROUP = 'palisade.dev';
/** The served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of Palisade objects. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** `kubectl get palisade` lists every kind in this category. */
export const CATEGORY = 'palisade';

/** Printer column showing the Ready condition's status. */
export const readyColumn: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Whether the resource is enforced on its pods.',
};

/** Printer column showing why it is (not) ready. */
export const reasonColumn: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Reason of the Ready condition.',
};

/** Printer column with the number of selected pods. */
export const podsColumn: PrinterColumn = {
  name: 'Pods',
  type: 'integer',
  jsonPath: '.status.matchedPods',
  description: 'Pods selected by spec.selector.',
};

/** Standard Age column. */
export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};
