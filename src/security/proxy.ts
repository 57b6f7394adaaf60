/**
 * Who the client is when proxies stand in front (`trustProxy`): the client address, the scheme it
 * used and the Host it asked for, from RFC 7239 `Forwarded` or X-Forwarded-For/-Proto/-Host, read
 * only from proxies the operator trusts. Off by default: any client can write those headers, so
 * believing them without a trusted peer lets anyone pick their IP (rate limits, logs), claim https
 * (CSRF's origin check, Secure cookies) or a Host (password-reset links).
 *
 * Trust is a hop count (the nearest N peers are proxies: Express's and Rails' "trusted hops") or a
 * list of addresses and CIDR ranges (only peers inside it are proxies: proxy-addr, Django's
 * approach through middleware). The chain is walked from the socket peer towards the client, one
 * trusted proxy at a time; the first untrusted address is the client. When a request carries
 * `Forwarded`, it alone is read (mixing it with X-Forwarded-* would let a client supply one of the
 * two where the proxy writes the other). Never the leftmost entry of a list by default: with
 * proxies that append, that is whatever the client wrote.
 *
 * Pure: built once from config; reads only the request it is given.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from '../errors.ts';

/** `false`: no proxy. A number: that many proxies in front. A list: addresses/CIDRs of your proxies. */
export type TrustProxyOption = boolean | number | readonly string[];

export type ResolvedTrustProxy = { readonly kind: 'none' } | { readonly kind: 'hops'; readonly hops: number } | { readonly kind: 'list'; readonly ranges: readonly string[] };

export interface EdgeView {
  /** The client's address (the socket peer's when no proxy is trusted). */
  readonly ip: string | undefined;
  /** `http` or `https`, as the client used it. */
  readonly protocol: 'http' | 'https';
  /** The Host the client asked for (forwarded by a trusted proxy, else the Host header). */
  readonly host: string | undefined;
}

export interface ProxyTrust {
  readonly enabled: boolean;
  view(req: IncomingMessage): EdgeView;
  /** True when the socket peer is a trusted proxy (its X-Request-Id is kept: internal/request-id.ts). */
  trustsPeer(req: IncomingMessage): boolean;
}

/** The `trustProxy` option (or VIAL_TRUST_PROXY: `1`/a hop count, or a comma-separated list) checked once. */
export function resolveTrustProxy(option: TrustProxyOption | undefined, envValue: string | undefined): ResolvedTrustProxy {
  let value: TrustProxyOption | undefined = option;
  if (value === undefined && envValue !== undefined) {
    value = /^\d+$/.test(envValue) ? Number(envValue) : envValue.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
  if (value === undefined || value === false || value === 0) return { kind: 'none' };
  // true: one proxy in front, the common deployment. Never "trust every hop": the leftmost
  // X-Forwarded-For entry is whatever the client wrote.
  if (value === true) return { kind: 'hops', hops: 1 };
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 32) {
      throw new ConfigError('VIAL_ERR_CONFIG', `trustProxy as a hop count must be an integer from 0 to 32, got ${value}.`);
    }
    return { kind: 'hops', hops: value };
  }
  const ranges = [...value];
  buildBlockList(ranges);
  return { kind: 'list', ranges };
}

function buildBlockList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address = '', prefixText] = range.split('/');
    const family = isIP(address);
    const prefix = prefixText === undefined ? undefined : Number(prefixText);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === ''))) {
      throw new ConfigError('VIAL_ERR_CONFIG', `trustProxy entry ${JSON.stringify(range)} is not an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32, 127.0.0.1).`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

interface Hop {
  readonly for: string | undefined;
  readonly proto: string | undefined;
  readonly host: string | undefined;
}

export function createProxyTrust(trust: ResolvedTrustProxy): ProxyTrust {
  const list = trust.kind === 'list' ? buildBlockList(trust.ranges) : undefined;
  const isTrusted = (address: string | undefined, traversed: number): boolean => {
    if (trust.kind === 'hops') return traversed < trust.hops;
    if (list === undefined || address === undefined) return false;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return {
    enabled: trust.kind !== 'none',
    trustsPeer: (req) => trust.kind !== 'none' && isTrusted(normalizeAddress(req.socket.remoteAddress), 0),
    view(req) {
      const peer = normalizeAddress(req.socket.remoteAddress);
      const direct: EdgeView = { ip: peer, protocol: (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http', host: req.headers.host };
      if (trust.kind === 'none' || !isTrusted(peer, 0)) return direct;
      const forwarded = req.headers.forwarded;
      const hops = forwarded !== undefined ? parseForwarded(forwarded) : xForwardedHops(req);
      // Walk from the nearest proxy outwards. `outer` is the hop written by the outermost trusted
      // proxy: the one that spoke to the client, so its proto and host are the client's.
      let ip = peer;
      let outer: Hop | undefined;
      let traversed = 0;
      for (let i = hops.length - 1; i >= 0 && isTrusted(ip, traversed); i--) {
        const hop = hops[i] as Hop;
        const address = normalizeAddress(hop.for);
        if (address === undefined) break; // "unknown" or an obfuscated id: the chain ends here
        outer = hop;
        ip = address;
        traversed++;
      }
      // A proxy that sets only X-Forwarded-Proto (no -For) still speaks for the connection.
      const speaker = outer ?? (forwarded !== undefined ? hops[hops.length - 1] : xForwardedHop(req, undefined));
      const proto = speaker?.proto?.toLowerCase();
      return {
        ip,
        protocol: proto === 'https' || proto === 'http' ? proto : direct.protocol,
        host: speaker?.host ?? direct.host,
      };
    },
  };
}

/**
 * X-Forwarded-For entries as hops. Each proxy appends to -Proto and -Host as it does to -For, so
 * their lists are aligned on the right with -For's (Werkzeug's ProxyFix reads them the same way):
 * the hop of -For entry i gets the -Proto/-Host entry at the same distance from the end. A list
 * shorter than -For (a proxy that overwrites) gives its leftmost entry to the hops beyond it.
 */
function xForwardedHops(req: IncomingMessage): Hop[] {
  const xff = headerText(req.headers['x-forwarded-for']);
  if (xff === undefined) return [];
  const addresses = xff.split(',').map((entry) => entry.trim());
  const protos = list(req.headers['x-forwarded-proto']);
  const hosts = list(req.headers['x-forwarded-host']);
  return addresses.map((address, i) => ({ for: address, proto: alignedRight(protos, i, addresses.length), host: alignedRight(hosts, i, addresses.length) }));
}

/** A proxy that sets only X-Forwarded-Proto/-Host (no -For) speaks for the connection: the rightmost entries. */
function xForwardedHop(req: IncomingMessage, address: string | undefined): Hop {
  return { for: address, proto: list(req.headers['x-forwarded-proto']).at(-1), host: list(req.headers['x-forwarded-host']).at(-1) };
}

function alignedRight(values: readonly string[], index: number, length: number): string | undefined {
  if (values.length === 0) return undefined;
  return values[Math.max(0, index - (length - values.length))];
}

function list(value: string | string[] | undefined): string[] {
  const text = headerText(value);
  if (text === undefined) return [];
  return text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * RFC 7239 §4: `Forwarded: for=192.0.2.60;proto=https;host=app.example, for="[2001:db8::17]:4711"`.
 * Elements are comma-separated, pairs semicolon-separated, values tokens or quoted strings.
 */
export function parseForwarded(value: string): Hop[] {
  const hops: Hop[] = [];
  let pairs: Record<string, string> = {};
  let i = 0;
  const flush = (): void => {
    hops.push({ for: pairs['for'], proto: pairs['proto'], host: pairs['host'] });
    pairs = {};
  };
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === '\t') i++;
    const eq = value.indexOf('=', i);
    if (eq === -1) break;
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let text = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\') i++;
        text += value[i] ?? '';
        i++;
      }
      i++;
    } else {
      while (i < value.length && value[i] !== ';' && value[i] !== ',') text += value[i++];
      text = text.trim();
    }
    pairs[name] = text;
    while (value[i] === ' ' || value[i] === '\t') i++;
    if (value[i] === ',') flush();
    i++;
  }
  flush();
  return hops;
}

/** An IP without port, brackets or the IPv4-mapped prefix; undefined if it is none. */
export function normalizeAddress(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let address = value.trim();
  if (address.startsWith('[')) address = address.slice(1, address.indexOf(']'));
  else if (address.includes('.') && address.lastIndexOf(':') > address.lastIndexOf('.')) address = address.slice(0, address.lastIndexOf(':'));
  if (address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7);
  return isIP(address) === 0 ? undefined : address;
}
