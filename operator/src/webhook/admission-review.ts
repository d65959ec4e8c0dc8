import type { SidecarSettings } from '../options.js';
import { injectSidecar, type InjectablePod } from './inject-sidecar.js';

/** What `reviewAdmission` answers: the HTTP status and the JSON body to send. */
export interface AdmissionAnswer {
  status: number;
  body: unknown;
  /** For metrics and logs. */
  outcome: 'injected' | 'unchanged' | 'refused' | 'invalid';
  message?: string;
}

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: InjectablePod;
}

/**
 * Pure: one AdmissionReview v1 (already parsed JSON) → the AdmissionReview answer.
 * Input is validated: a body that is not an AdmissionReview v1 with a string `uid` gets HTTP 400
 * (the API server then applies the failure policy, Ignore). A Pod CREATE that asks for the
 * sidecar gets a JSONPatch; an already injected pod, or anything else, is allowed unchanged; a
 * pod without a usable `palisade.dev/app-port` is denied with a message saying what to add —
 * the pod asked for Palisade explicitly, and starting it without a working sidecar would hide
 * the mistake (see docs/decisions/0013-operator-runtime.md).
 */
export function reviewAdmission(review: unknown, settings: SidecarSettings): AdmissionAnswer {
  const invalid = (message: string): AdmissionAnswer => ({
    status: 400,
    body: { message },
    outcome: 'invalid',
    message,
  });
  if (typeof review !== 'object' || review === null) return invalid('body is not a JSON object');
  const r = review as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  if (r.apiVersion !== 'admission.k8s.io/v1' || r.kind !== 'AdmissionReview')
    return invalid('expected an admission.k8s.io/v1 AdmissionReview');
  const request = r.request as AdmissionRequest | undefined;
  if (
    typeof request !== 'object' ||
    request === null ||
    typeof request.uid !== 'string' ||
    request.uid.length > 128
  )
    return invalid('request.uid missing');
  const answer = (
    response: Record<string, unknown>,
    outcome: AdmissionAnswer['outcome'],
    message?: string,
  ): AdmissionAnswer => ({
    status: 200,
    body: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: request.uid, ...response },
    },
    outcome,
    ...(message === undefined ? {} : { message }),
  });
  const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
  const object = request.object;
  if (!isPod || request.operation !== 'CREATE' || typeof object !== 'object' || object === null)
    return answer({ allowed: true }, 'unchanged');
  if (!Array.isArray(object.spec?.containers)) return answer({ allowed: true }, 'unchanged');
  const result = injectSidecar(object, settings);
  if (result.kind === 'unchanged') return answer({ allowed: true }, 'unchanged');
  if (result.kind === 'refused')
    return answer(
      {
        allowed: false,
        status: { code: 400, reason: 'BadRequest', message: `palisade: ${result.message}` },
      },
      'refused',
      result.message,
    );
  return answer(
    {
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(result.patch)).toString('base64'),
    },
    'injected',
  );
}
