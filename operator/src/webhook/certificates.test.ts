import { describe, expect, it } from '@jest/globals';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { generateCertificates, renewalReason } from './certificates.js';

const names = { dnsNames: ['svc', 'svc.ns.svc'], ipAddresses: ['127.0.0.1'] };
const now = Date.parse('2026-01-01T00:00:00Z');
const day = 86_400_000;

describe('certificates', () => {
  const bundle = generateCertificates({ names, nowMs: now, servingValidityMs: 100 * day });

  it('signs a serving certificate for every name with the CA', () => {
    const ca = new X509Certificate(bundle.caCert);
    const cert = new X509Certificate(bundle.cert);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost('svc.ns.svc')).toBe('svc.ns.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(bundle.key))).toBe(true);
    expect(bundle.caBundle).toBe(bundle.caCert);
    expect(renewalReason(bundle, names, now, 30 * day)).toBeUndefined();
  });

  it('asks for renewal before expiry, for new names, and for a foreign CA', () => {
    expect(renewalReason(bundle, names, now + 71 * day, 30 * day)).toBe('certificate expires soon');
    expect(renewalReason(bundle, { ...names, dnsNames: ['other'] }, now, day)).toBe(
      'missing DNS name other',
    );
    const other = generateCertificates({ names, nowMs: now });
    expect(renewalReason({ ...bundle, caCert: other.caCert }, names, now, day)).toMatch(
      /not signed/,
    );
    expect(renewalReason({ ...bundle, cert: 'junk' }, names, now, day)).toBe(
      'unparsable certificate',
    );
  });

  it('keeps the previous CA in the bundle during a rotation', () => {
    const next = generateCertificates({ names, nowMs: now + day, previousCa: bundle.caCert });
    expect(next.caBundle).toBe(`${next.caCert}${bundle.caCert}`);
  });
});
