/**
 * Accept-Encoding negotiation (RFC 9110 §12.5.3): q-values, `*`, `identity`, and our order of
 * preference among equals. Pure.
 */

export type Encoding = 'br' | 'zstd' | 'gzip';

/** Parsed q-values by coding name (lower case); `*` included when sent. */
export function parseAcceptEncoding(header: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (header === undefined) return out;
  // Bounded: a header with thousands of entries is not a browser, and we only need a few names.
  for (const part of header.split(',', 32)) {
    const [rawName = '', ...params] = part.split(';');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m !== null) q = Number(m[1]);
    }
    if (!out.has(name)) out.set(name, q);
  }
  return out;
}

/**
 * The coding to use among `offered` (in our order of preference), or undefined for identity. The
 * client's q-value decides first; among equal q-values our order decides (brotli compresses text
 * best, zstd is fastest at a given ratio, gzip is everywhere).
 */
export function chooseEncoding(header: string | undefined, offered: readonly Encoding[]): Encoding | undefined {
  if (header === undefined || offered.length === 0) return undefined;
  const accepted = parseAcceptEncoding(header);
  const star = accepted.get('*');
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const coding of offered) {
    const q = accepted.get(coding) ?? (coding === 'gzip' ? accepted.get('x-gzip') : undefined) ?? star ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}
