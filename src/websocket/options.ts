/**
 * WebSocket options: every limit on by default, resolved once at registration into frozen objects
 * (the plugin's slice), with bounds and a ConfigError that names the option on bad input.
 *
 * App-wide options hold the process limit and the per-route defaults; a route may tighten or loosen
 * the per-route ones (`app.get(path, { websocket: { maxMessageBytes } }, handler)`).
 *
 * Pure module: no I/O, no timers, no environment.
 */
import { ConfigError } from '../errors.ts';
import { normalizeOrigin } from '../security/csrf.ts';
import { inBounds } from '../internal/bounds.ts';

/** permessage-deflate (RFC 7692). Off by default: each compressed socket holds zlib state (~300 KB with default windows). */
export interface DeflateInput {
  /** Messages smaller than this are sent uncompressed. Default 1024. */
  readonly thresholdBytes?: number;
  /** zlib level, 1 (fast) to 9 (small). Default 3. */
  readonly level?: number;
  /** Concurrent zlib operations per process (ws' own limit). Default 10. */
  readonly concurrencyLimit?: number;
}

/** The limits a route may set for itself. Each is on by default; see docs/websocket.md for why each default. */
export interface WebSocketRouteLimits {
  /** Largest message accepted (after reassembly of fragments); a larger one closes the socket with 1009. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Open sockets of this route at once (a bulkhead); the next upgrade gets 503. Default 1,000. */
  readonly maxConnections?: number;
  /** Messages per second one socket may send (a token bucket of `messageBurst`); above it the socket is closed with 1008. Default 100. */
  readonly maxMessagesPerSecond?: number;
  /** Bucket size: how many messages may arrive at once before the rate applies. Default 2 x maxMessagesPerSecond. */
  readonly messageBurst?: number;
  /** Above this many bytes waiting in the socket's send buffer, vial stops reading the peer's messages. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** A consumer whose send buffer stays above `maxBufferedBytes` this long is dropped (1008). Default 10 s. */
  readonly slowConsumerTimeoutMs?: number;
  /** No message either way for this long closes the socket (1000, "idle timeout"). 0 turns it off. Default 5 minutes. */
  readonly idleTimeoutMs?: number;
}

export interface WebSocketInput extends WebSocketRouteLimits {
  /**
   * Exact origins (scheme://host[:port]) whose pages may open sockets, besides the app's own.
   * Default: `security.csrf.trustedOrigins`.
   */
  readonly allowedOrigins?: readonly string[];
  /** Open sockets of all routes in this process. Default 10,000. */
  readonly maxConnectionsPerProcess?: number;
  /** From the upgrade request to the open socket, before hooks included; past it the request gets 408. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** A ping goes out this often; a peer that has not answered the previous one is terminated. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** On shutdown, sockets get this long to finish (handlers see `socket.closing`) before the 1001 close. Default 5 s. */
  readonly shutdownGraceMs?: number;
  /** After vial sends a close frame, a peer that does not answer within this is terminated. Default 5 s. */
  readonly closeTimeoutMs?: number;
  /** `true` for the defaults, or settings. Default false (memory: zlib state per socket). */
  readonly perMessageDeflate?: boolean | DeflateInput;
}

export interface ResolvedRouteLimits {
  readonly maxMessageBytes: number;
  readonly maxConnections: number;
  readonly maxMessagesPerSecond: number;
  readonly messageBurst: number;
  readonly maxBufferedBytes: number;
  readonly slowConsumerTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

export interface ResolvedDeflate {
  readonly thresholdBytes: number;
  readonly level: number;
  readonly concurrencyLimit: number;
}

export interface ResolvedWebSocketOptions {
  /** Normalized; the app's own origin is checked separately (security.csrf.appOrigin or the Host). */
  readonly allowedOrigins: readonly string[];
  readonly maxConnectionsPerProcess: number;
  readonly handshakeTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly shutdownGraceMs: number;
  readonly closeTimeoutMs: number;
  readonly perMessageDeflate: ResolvedDeflate | false;
  /** Defaults for every route; a route's own limits are merged over them. */
  readonly route: ResolvedRouteLimits;
}

export const WEBSOCKET_DEFAULTS = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxConnections: 1_000,
  maxMessagesPerSecond: 100,
  maxBufferedBytes: 1024 * 1024,
  slowConsumerTimeoutMs: 10_000,
  idleTimeoutMs: 5 * 60_000,
  maxConnectionsPerProcess: 10_000,
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 30_000,
  shutdownGraceMs: 5_000,
  closeTimeoutMs: 5_000,
  deflate: Object.freeze({ thresholdBytes: 1024, level: 3, concurrencyLimit: 10 }),
});

const bad = (message: string): ConfigError => new ConfigError('VIAL_ERR_WS_OPTIONS', message);

function integerIn(where: string, name: string, value: number, min: number, max: number): number {
  return inBounds(value, { name: `${where}.${name}`, min, max }, bad);
}

const KNOWN_ROUTE_KEYS = new Set(['maxMessageBytes', 'maxConnections', 'maxMessagesPerSecond', 'messageBurst', 'maxBufferedBytes', 'slowConsumerTimeoutMs', 'idleTimeoutMs']);
const KNOWN_APP_KEYS = new Set([...KNOWN_ROUTE_KEYS, 'allowedOrigins', 'maxConnectionsPerProcess', 'handshakeTimeoutMs', 'pingIntervalMs', 'shutdownGraceMs', 'closeTimeoutMs', 'perMessageDeflate']);

function rejectUnknown(where: string, input: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw bad(`${where} has no option ${JSON.stringify(key)}. Known: ${[...known].join(', ')}.`);
  }
}

/** Merges a route's own limits over `base` (the app's resolved defaults). */
export function resolveRouteLimits(input: WebSocketRouteLimits = {}, base: ResolvedRouteLimits = DEFAULT_ROUTE_LIMITS, where = 'ws route'): ResolvedRouteLimits {
  rejectUnknown(where, input, KNOWN_ROUTE_KEYS);
  const rate = integerIn(where, 'maxMessagesPerSecond', input.maxMessagesPerSecond ?? base.maxMessagesPerSecond, 1, 1_000_000);
  // A route that sets only the rate gets the matching burst, not the base's burst for another rate.
  const burstDefault = input.maxMessagesPerSecond === undefined ? base.messageBurst : rate * 2;
  const maxBufferedBytes = integerIn(where, 'maxBufferedBytes', input.maxBufferedBytes ?? base.maxBufferedBytes, 1024, 1024 * 1024 * 1024);
  return Object.freeze({
    // ws' own default is 100 MiB per message, which lets one client hold that much memory per socket.
    maxMessageBytes: integerIn(where, 'maxMessageBytes', input.maxMessageBytes ?? base.maxMessageBytes, 1, 1024 * 1024 * 1024),
    maxConnections: integerIn(where, 'maxConnections', input.maxConnections ?? base.maxConnections, 1, 10_000_000),
    maxMessagesPerSecond: rate,
    messageBurst: integerIn(where, 'messageBurst', input.messageBurst ?? burstDefault, 1, 10_000_000),
    maxBufferedBytes,
    slowConsumerTimeoutMs: integerIn(where, 'slowConsumerTimeoutMs', input.slowConsumerTimeoutMs ?? base.slowConsumerTimeoutMs, 0, 3_600_000),
    idleTimeoutMs: integerIn(where, 'idleTimeoutMs', input.idleTimeoutMs ?? base.idleTimeoutMs, 0, 7 * 86_400_000),
  });
}

export const DEFAULT_ROUTE_LIMITS: ResolvedRouteLimits = Object.freeze({
  maxMessageBytes: WEBSOCKET_DEFAULTS.maxMessageBytes,
  maxConnections: WEBSOCKET_DEFAULTS.maxConnections,
  maxMessagesPerSecond: WEBSOCKET_DEFAULTS.maxMessagesPerSecond,
  messageBurst: WEBSOCKET_DEFAULTS.maxMessagesPerSecond * 2,
  maxBufferedBytes: WEBSOCKET_DEFAULTS.maxBufferedBytes,
  slowConsumerTimeoutMs: WEBSOCKET_DEFAULTS.slowConsumerTimeoutMs,
  idleTimeoutMs: WEBSOCKET_DEFAULTS.idleTimeoutMs,
});

/**
 * Resolves the plugin's options. `trustedOrigins` are the app's `security.csrf.trustedOrigins`
 * (already normalized): the default for `allowedOrigins`, so one list serves forms and sockets.
 */
export function resolveWebSocketOptions(input: WebSocketInput = {}, trustedOrigins: readonly string[] = []): ResolvedWebSocketOptions {
  const where = 'websocket';
  rejectUnknown(where, input, KNOWN_APP_KEYS);
  const d = WEBSOCKET_DEFAULTS;
  const allowedOrigins = (input.allowedOrigins ?? trustedOrigins).map((origin) => {
    const normalized = normalizeOrigin(origin);
    if (normalized === undefined || normalized !== origin.replace(/\/$/, '').toLowerCase()) {
      throw bad(`websocket.allowedOrigins entry ${JSON.stringify(origin)} is not an exact origin. Write scheme://host[:port], no path.`);
    }
    return normalized;
  });
  const { allowedOrigins: _o, maxConnectionsPerProcess: _p, handshakeTimeoutMs: _h, pingIntervalMs: _i, shutdownGraceMs: _s, closeTimeoutMs: _c, perMessageDeflate: _d, ...routeInput } = input;
  const route = resolveRouteLimits(routeInput, DEFAULT_ROUTE_LIMITS, where);
  const maxConnectionsPerProcess = integerIn(where, 'maxConnectionsPerProcess', input.maxConnectionsPerProcess ?? d.maxConnectionsPerProcess, 1, 10_000_000);
  return Object.freeze({
    allowedOrigins: Object.freeze(allowedOrigins),
    maxConnectionsPerProcess,
    handshakeTimeoutMs: integerIn(where, 'handshakeTimeoutMs', input.handshakeTimeoutMs ?? d.handshakeTimeoutMs, 1, 600_000),
    pingIntervalMs: integerIn(where, 'pingIntervalMs', input.pingIntervalMs ?? d.pingIntervalMs, 0, 3_600_000),
    shutdownGraceMs: integerIn(where, 'shutdownGraceMs', input.shutdownGraceMs ?? d.shutdownGraceMs, 0, 600_000),
    closeTimeoutMs: integerIn(where, 'closeTimeoutMs', input.closeTimeoutMs ?? d.closeTimeoutMs, 1, 600_000),
    perMessageDeflate: resolveDeflate(input.perMessageDeflate),
    route,
  });
}

function resolveDeflate(input: boolean | DeflateInput | undefined): ResolvedDeflate | false {
  if (input === undefined || input === false) return false;
  const given = input === true ? {} : input;
  const where = 'websocket.perMessageDeflate';
  rejectUnknown(where, given, new Set(['thresholdBytes', 'level', 'concurrencyLimit']));
  const d = WEBSOCKET_DEFAULTS.deflate;
  return Object.freeze({
    thresholdBytes: integerIn(where, 'thresholdBytes', given.thresholdBytes ?? d.thresholdBytes, 0, 1024 * 1024 * 1024),
    level: integerIn(where, 'level', given.level ?? d.level, 1, 9),
    concurrencyLimit: integerIn(where, 'concurrencyLimit', given.concurrencyLimit ?? d.concurrencyLimit, 1, 1_000),
  });
}
