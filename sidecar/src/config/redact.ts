/**
 * Secrets out of anything shown or logged: the config served on `GET /config`, log lines.
 * Redacts values under secret-looking keys (`password`, `token`, `authorization`, …), the
 * password of any URL with credentials (`redis://:pw@host` → `redis://:[REDACTED]@host`) and
 * secret-looking query parameters. Paths to secret files (`secretFile`) are kept: they are not
 * secrets, and operators need them to debug.
 */

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

const SECRET_KEY =
  /(pass(word|wd)?|secret|token|authorization|cookie|api[-_]?key|credential|private[-_]?key)$/i;
const PATH_KEY = /(file|path|dir)$/i;
const URL_WITH_CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^/@?#]*)@/i;

/** A deep copy of `value` with secrets replaced by `REDACTED`. */
export function redactSecrets<T>(value: T): T {
  return redact(value, undefined) as T;
}

/** `redis://user:pw@h:6379/0?password=x` → `redis://user:[REDACTED]@h:6379/0?password=[REDACTED]`. */
export function redactUrl(url: string): string {
  let out = url.replace(URL_WITH_CREDENTIALS, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    // `user@` alone can be a password (redis://password@host in some clients): redact it too.
    return colon < 0
      ? `${scheme}${REDACTED}@`
      : `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
  });
  const query = out.indexOf('?');
  if (query >= 0) {
    const head = out.slice(0, query + 1);
    const params = out
      .slice(query + 1)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        return eq > 0 && SECRET_KEY.test(decodeSafe(pair.slice(0, eq)))
          ? `${pair.slice(0, eq)}=${REDACTED}`
          : pair;
      });
    out = head + params.join('&');
  }
  return out;
}

function redact(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && SECRET_KEY.test(key) && !PATH_KEY.test(key)) return REDACTED;
    return value.includes('://') ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, undefined));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
