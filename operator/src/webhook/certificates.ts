import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A CA and a serving certificate it signed, PEM. `caBundle` may also hold the previous CA. */
export interface CertificateBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
  /** What the MutatingWebhookConfiguration trusts: the current CA, then the previous one while it is valid. */
  caBundle: string;
}

/** Names the serving certificate must carry. */
export interface ServingNames {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

/** Validity of what `generateCertificates` makes. */
export const CA_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;
/** Serving certificate validity (one year). */
export const SERVING_VALIDITY_MS = 365 * 24 * 3_600_000;

/**
 * Makes a fresh CA and serving certificate (RSA 2048, SHA-256). Keys come from node:crypto;
 * node-forge only builds and signs the X.509 structures, which node:crypto cannot do.
 * `previousCa` (PEM) is appended to the caBundle so that API servers holding the old bundle
 * keep trusting the old certificate during a rotation.
 */
export function generateCertificates(input: {
  names: ServingNames;
  nowMs: number;
  previousCa?: string;
  caValidityMs?: number;
  servingValidityMs?: number;
}): CertificateBundle {
  const { names, nowMs } = input;
  const caKeys = rsaKeys();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(nowMs - 60_000);
  ca.validity.notAfter = new Date(nowMs + (input.caValidityMs ?? CA_VALIDITY_MS));
  const caSubject = [{ name: 'commonName', value: 'palisade-webhook-ca' }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(nowMs - 60_000);
  cert.validity.notAfter = new Date(nowMs + (input.servingValidityMs ?? SERVING_VALIDITY_MS));
  cert.setSubject([{ name: 'commonName', value: names.dnsNames[0] ?? 'palisade-webhook' }]);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...names.dnsNames.map((value) => ({ type: 2, value })),
        ...names.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  const caCert = forge.pki.certificateToPem(ca);
  const previous =
    input.previousCa !== undefined && certificateValid(input.previousCa, nowMs)
      ? input.previousCa
      : '';
  return {
    caCert,
    caKey: caKeys.pem,
    cert: forge.pki.certificateToPem(cert),
    key: keys.pem,
    caBundle: `${caCert}${previous}`,
  };
}

/**
 * Why a stored bundle must be replaced, or undefined if it can serve: parse errors, a serving
 * certificate not signed by the CA, missing names, or less than `renewBeforeMs` left on either
 * certificate. Pure apart from parsing.
 */
export function renewalReason(
  bundle: CertificateBundle,
  names: ServingNames,
  nowMs: number,
  renewBeforeMs: number,
): string | undefined {
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(bundle.caCert);
    cert = new X509Certificate(bundle.cert);
  } catch {
    return 'unparsable certificate';
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    return 'serving certificate not signed by the CA';
  for (const c of [ca, cert]) {
    if (Date.parse(c.validTo) - nowMs < renewBeforeMs) return 'certificate expires soon';
    if (Date.parse(c.validFrom) > nowMs + 60_000) return 'certificate not yet valid';
  }
  for (const dns of names.dnsNames)
    if (cert.checkHost(dns) === undefined) return `missing DNS name ${dns}`;
  for (const ip of names.ipAddresses) if (cert.checkIP(ip) === undefined) return `missing IP ${ip}`;
  return undefined;
}

/** Time at which `renewalReason` will start to answer 'expires soon'. */
export function renewalDueMs(bundle: CertificateBundle, renewBeforeMs: number): number {
  const ca = new X509Certificate(bundle.caCert);
  const cert = new X509Certificate(bundle.cert);
  return Math.min(Date.parse(ca.validTo), Date.parse(cert.validTo)) - renewBeforeMs;
}

function certificateValid(pem: string, nowMs: number): boolean {
  try {
    return Date.parse(new X509Certificate(pem).validTo) > nowMs;
  } catch {
    return false;
  }
}

function rsaKeys(): {
  publicKey: forge.pki.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  pem: string;
} {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return {
    privateKey: forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
    pem,
  };
}

/** A positive 128-bit serial, hex (leading byte cleared so it is never negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}
