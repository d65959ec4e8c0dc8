import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:https';
import { parseOptions } from '../options.js';
import { reviewAdmission } from './admission-review.js';
import { generateCertificates } from './certificates.js';
import { MAX_REVIEW_BYTES, WebhookServer } from './webhook-server.js';

const parsed = parseOptions(['--sidecar-image', 'img:1'], {}, 'test');
if (parsed.kind !== 'run') throw new Error('options');
const settings = parsed.options.sidecar;
const bundle = generateCertificates({
  names: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
  nowMs: Date.now(),
});

const review = (object: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    object,
    ...extra,
  },
});
const labelled = {
  metadata: {
    labels: { 'palisade.dev/inject': 'true' },
    annotations: { 'palisade.dev/app-port': '8080' },
  },
  spec: { containers: [{ name: 'app' }] },
};

describe('reviewAdmission', () => {
  it('answers a pod CREATE with a base64 JSONPatch and the request uid', () => {
    const answer = reviewAdmission(review(labelled), settings);
    expect(answer.outcome).toBe('injected');
    const body = answer.body as {
      response: { uid: string; allowed: boolean; patchType: string; patch: string };
    };
    expect(body.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString()) as {
      path: string;
    }[];
    expect(patch.some((op) => op.path === '/spec/containers/-')).toBe(true);
  });

  it('allows anything else unchanged and denies a missing port with a message', () => {
    expect(reviewAdmission(review(labelled, { operation: 'UPDATE' }), settings).outcome).toBe(
      'unchanged',
    );
    expect(
      reviewAdmission(
        review(labelled, { kind: { group: 'apps', version: 'v1', kind: 'Pod' } }),
        settings,
      ).outcome,
    ).toBe('unchanged');
    const denied = reviewAdmission(review({ ...labelled, metadata: {} }), settings);
    expect(denied.outcome).toBe('refused');
    expect(denied.body).toMatchObject({
      response: { uid: 'u-1', allowed: false, status: { code: 400 } },
    });
  });

  it.each([
    [null],
    ['text'],
    [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview' }],
    [{ ...review(labelled), request: { uid: 7 } }],
  ])('refuses malformed input %j with 400', (input) => {
    expect(reviewAdmission(input, settings)).toMatchObject({ status: 400, outcome: 'invalid' });
  });
});

describe('WebhookServer', () => {
  let server: WebhookServer;
  let port: number;
  beforeAll(async () => {
    server = new WebhookServer({
      host: '127.0.0.1',
      port: 0,
      tls: bundle,
      settings,
      path: '/mutate-v1-pod',
    });
    port = await server.listen();
  });
  afterAll(async () => server.close());

  const post = (path: string, body: string | Buffer, type = 'application/json') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          ca: bundle.caCert,
          headers: { 'content-type': type },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      r.on('error', reject);
      r.end(body);
    });

  it('serves reviews over TLS trusted by the generated CA', async () => {
    const res = await post('/mutate-v1-pod', JSON.stringify(review(labelled)));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response: { uid: 'u-1', allowed: true } });
  });

  it('refuses other paths, other content types, bad JSON and oversized bodies', async () => {
    expect((await post('/other', '{}')).status).toBe(404);
    expect((await post('/mutate-v1-pod', '{}', 'text/plain')).status).toBe(415);
    expect((await post('/mutate-v1-pod', '{nope')).status).toBe(400);
    expect((await post('/mutate-v1-pod', Buffer.alloc(MAX_REVIEW_BYTES + 10, 0x20))).status).toBe(
      413,
    );
  });
});
