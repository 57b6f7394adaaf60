/**
 * The Host a request names: its syntax (RFC 9110 §7.2: uri-host [":" port]) and whether this app
 * answers for it (`allowedHosts`, as Django's ALLOWED_HOSTS). A Host the app does not serve is how
 * DNS rebinding reaches a service on a private address and how Host-header poisoning gets an
 * attacker's domain into password-reset links and cached pages; both get 400 before routing.
 *
 * Pure: no I/O; the policy is built once from the resolved config.
 */
import { BadRequestError, ConfigError } from '../errors.ts';
import type { VialError } from '../errors.ts';

/**
 * reg-name as hostnames use it (letters, digits, '-', '.', and '_' as Go's net/http accepts), an
 * IPv4 address (matches the same pattern), or an IPv6 literal with an optional RFC 6874 zone; an
 * optional port of 1-5 digits. Stricter than RFC 3986's reg-name on purpose: sub-delims and
 * percent-encoding (`a!b`, `a%2fb`) name no real host and only serve to confuse a cache or a log,
 * which is why Django refuses them too. An empty Host is refused (RFC 9110 §4.2.1: an http URI
 * with an empty host is invalid), and so is a bare `::1` (not a URI host without brackets).
 */
const HOST_SYNTAX = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~-]+)?\])(?::(\d{1,5}))?$/;

export interface HostParts {
  /** Lower-cased, brackets kept for IPv6 (`[::1]`), trailing dot removed. */
  readonly hostname: string;
  readonly port: number | undefined;
}

/** The hostname and port of a syntactically valid Host value, or undefined. */
export function parseHost(value: string): HostParts | undefined {
  const match = HOST_SYNTAX.exec(value);
  if (match === null) return undefined;
  const portText = match[1];
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65535) return undefined;
  const end = portText === undefined ? value.length : value.length - portText.length - 1;
  let hostname = value.slice(0, end).toLowerCase();
  if (hostname.endsWith('.') && !hostname.startsWith('[')) hostname = hostname.slice(0, -1);
  return { hostname, port };
}

export function badHostError(value: string): VialError {
  return new BadRequestError('VIAL_ERR_BAD_HOST', `The Host header ${JSON.stringify(value.slice(0, 100))} is not a host name or IP literal with an optional port.`);
}

/**
 * Entries: an exact host (`app.example.com`, `127.0.0.1`, `[::1]`), a leading dot for a domain
 * and all its subdomains (`.example.com`), or `*` for any host. Ports are not compared (as in
 * Django): the port a client saw depends on the proxies in front.
 */
export type HostMatcher = (hostname: string) => boolean;

export function createHostMatcher(allowedHosts: readonly string[]): HostMatcher {
  if (allowedHosts.includes('*')) return () => true;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowedHosts) {
    const lower = entry.toLowerCase();
    if (lower.startsWith('.')) suffixes.push(lower);
    else exact.add(lower);
  }
  return function isAllowedHost(hostname: string): boolean {
    if (exact.has(hostname)) return true;
    for (const suffix of suffixes) if (hostname === suffix.slice(1) || hostname.endsWith(suffix)) return true;
    return false;
  };
}

export function hostNotAllowedError(hostname: string): VialError {
  return new BadRequestError(
    'VIAL_ERR_HOST_NOT_ALLOWED',
    `This server does not answer for host ${JSON.stringify(hostname.slice(0, 100))}. Operators: add it to allowedHosts (VIAL_ALLOWED_HOSTS) if it is yours.`,
  );
}

/**
 * Checks each configured entry once at startup: a typo here would refuse every request, or worse,
 * a `example.com:443` entry that never matches would push someone to `*`.
 */
export function resolveAllowedHosts(entries: readonly string[]): readonly string[] {
  return entries.map((raw) => {
    const entry = raw.trim();
    if (entry === '*') return entry;
    const host = entry.startsWith('.') ? entry.slice(1) : entry;
    const parts = parseHost(host);
    if (parts === undefined || parts.port !== undefined) {
      throw new ConfigError(
        'VIAL_ERR_CONFIG',
        `allowedHosts entry ${JSON.stringify(raw)} is not a host name: write app.example.com, .example.com (with subdomains), an IP ([::1] for IPv6) or *, without a scheme or port.`,
      );
    }
    return entry.startsWith('.') ? `.${parts.hostname}` : parts.hostname;
  });
}
