/**
 * HTTPS and HTTP/2 (docs/https.md): `listen({ tls: { cert, key } })` and `vial run --cert --key`
 * serve TLS from node:http2's secure server with HTTP/1.1 fallback over ALPN (`allowHTTP1`), so
 * one port speaks both. The app's handler runs unchanged on both (HTTP/2 through Node's
 * compatibility API).
 *
 * The same limits as plain HTTP: HTTP/1.1 connections get the slow-client timeouts and header
 * limits (Node's HTTP/1 parser reads them from this server); HTTP/2 sessions get bounded SETTINGS
 * (concurrent streams, header list size and pairs), bounded session memory, an idle timeout, and
 * nghttp2's stream-reset rate limit against rapid reset (CVE-2023-44487), checked by a test.
 * At close, every HTTP/2 session is sent GOAWAY so clients stop opening streams and the drain can end.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { Http2SecureServer, Http2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ConfigError } from '../errors.ts';
import type { ServerLimitOptions } from '../load/options.ts';

export interface TlsOptions {
  /** PEM certificate chain, or a path to it. */
  readonly cert: string | Buffer;
  /** PEM private key, or a path to it. */
  readonly key: string | Buffer;
  readonly passphrase?: string;
  /** Offer HTTP/2 over ALPN (with HTTP/1.1 fallback). Default true; false serves HTTPS over HTTP/1.1 only. */
  readonly http2?: boolean;
  /** Streams one HTTP/2 connection may have open at once. Default 100 (RFC 9113 §6.5.2 recommends no fewer). */
  readonly maxConcurrentStreams?: number;
}

export interface SecureServer {
  readonly server: Http2SecureServer;
  /** GOAWAY to every HTTP/2 session, and close idle HTTP/1.1 connections: nothing new starts, in-flight requests finish. */
  drain(): void;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function pem(name: string, value: string | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw new ConfigError('VIAL_ERR_TLS', `tls.${name}: cannot read "${value}" (${(error as NodeJS.ErrnoException).code ?? 'error'}). Pass the PEM text or a readable file path.`);
  }
}

export function createSecureServer(listener: Listener, tls: TlsOptions, limits: ServerLimitOptions): SecureServer {
  const maxStreams = tls.maxConcurrentStreams ?? 100;
  if (!Number.isSafeInteger(maxStreams) || maxStreams < 1 || maxStreams > 1000) {
    throw new ConfigError('VIAL_ERR_TLS', `tls.maxConcurrentStreams is an integer from 1 to 1000, got ${String(maxStreams)}.`);
  }
  let server: Http2SecureServer;
  try {
    server = http2.createSecureServer(
      {
        cert: pem('cert', tls.cert),
        key: pem('key', tls.key),
        ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
        allowHTTP1: true,
        ALPNProtocols: tls.http2 === false ? ['http/1.1'] : ['h2', 'http/1.1'],
        minVersion: 'TLSv1.2',
        settings: {
          maxConcurrentStreams: maxStreams,
          // The same bound as HTTP/1.1's maxHeaderSize: a header block is a header block.
          maxHeaderListSize: limits.maxHeaderSizeBytes,
          enablePush: false,
        },
        // Twice vial's count, plus the pseudo-headers: up to there the stream reaches vial, which
        // answers a clear 431 with a body (as over HTTP/1); past it nghttp2 resets the stream
        // (ENHANCE_YOUR_CALM). The bytes stay bounded by maxHeaderListSize either way.
        maxHeaderListPairs: limits.maxHeadersCount * 2 + 4,
        maxSessionMemory: 10, // MB per session, Node's default written down: past it new streams are refused
        maxSettings: 32,
        maxOutstandingPings: 10,
        maxSessionInvalidFrames: 1000,
        maxSessionRejectedStreams: 100,
        unknownProtocolTimeout: limits.headersTimeoutMs,
      },
      listener as never,
    );
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('VIAL_ERR_TLS', `tls: the certificate or key was refused (${(error as Error).message}). Check that they are PEM and belong together.`);
  }
  // HTTP/1.1 over TLS: Node's HTTP/1 connection listener reads these from the server it serves.
  const h1 = server as unknown as { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; maxHeadersCount: number };
  h1.headersTimeout = limits.headersTimeoutMs;
  h1.requestTimeout = limits.requestTimeoutMs;
  h1.keepAliveTimeout = limits.keepAliveTimeoutMs;
  h1.maxHeadersCount = limits.maxHeadersCount + 1;
  // HTTP/2: a session that sends nothing for this long is closed (its slow-client bound).
  server.setTimeout(Math.max(limits.keepAliveTimeoutMs, limits.headersTimeoutMs));
  const sessions = new Set<Http2Session>();
  let draining = false;
  server.on('session', (session) => {
    if (draining) {
      session.close();
      return;
    }
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // Rapid reset (CVE-2023-44487): streams opened and reset at once cost the server a request
    // each while never counting against the concurrent-stream limit. nghttp2 rate-limits resets;
    // this closes a session sooner: more resets within a second than the stream limit allows open.
    let resets = 0;
    let windowStart = 0;
    session.on('stream', (stream) => {
      stream.once('close', () => {
        if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR || session.destroyed) return;
        const now = performance.now();
        if (now - windowStart > 1_000) {
          windowStart = now;
          resets = 0;
        }
        if (++resets > maxStreams) {
          session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
      });
    });
    // A broken peer is its own problem; an 'error' without a listener would crash the process.
    session.on('error', () => undefined);
  });
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const drain = (): void => {
    draining = true;
    for (const session of sessions) session.close();
  };
  // What an http.Server has and vial's shutdown calls: GOAWAY for the idle close (HTTP/2 has no
  // idle connection to pick: a session finishes its streams and closes), and destroy for the forced one.
  Object.assign(server, {
    closeIdleConnections: drain,
    closeAllConnections(): void {
      drain();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  });
  return { server, drain };
}
