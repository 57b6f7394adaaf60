/**
 * Lingering close: an answer sent before the request body was read reaches the client (issue 13,
 * class 3). A 413 on the declared Content-Length, a CSRF 403, an admission 503, a 404: each can
 * go out while the client is still uploading. Node then closes the socket at once, the kernel
 * answers the upload's next segments with RST, and a client that reads only once it has sent its
 * body (most simple clients) gets ECONNRESET instead of the answer. RFC 9112 §9.6 asks a server to
 * half-close and keep reading "until it receives a corresponding close from the client, or until
 * the server is reasonably certain that its own TCP stack has received the client's
 * acknowledgement"; nginx does so for `lingering_time` / `lingering_timeout`, Go's net/http reads
 * up to 256 KiB of an unread body before it decides.
 *
 * Once a response has been written and the request body has not all arrived, the rest of the body
 * gets at most `lingerBytes` and `lingerMs` (counted from the end of the response):
 * - a response that closes the connection (`Connection: close`, as the 413s have): vial sends FIN
 *   after the response, reads and discards what the client still sends, and closes when the client
 *   closes its side or a bound is reached. The HTTP parser is detached first, as Node does for an
 *   upgrade: nothing after the refused body is parsed, so no request pipelined behind it runs.
 * - a keep-alive response: Node reads the rest of the body to reuse the connection (and would read
 *   it whole); a body that ends within the bounds leaves the connection usable, one that does not
 *   is closed at the bound, as Go closes when more than its 256 KiB remain.
 * HTTP/2 is not concerned: a stream is ended with RST_STREAM(NO_ERROR) after a complete response
 * (RFC 9113 §8.1) and the connection goes on, so only HTTP/1.x requests are watched.
 *
 * Relies on Node closing such a connection through `socket.destroySoon()` right after the
 * response's 'finish' (node:_http_server resOnFinish, Node 22 and 24): the override is per socket
 * and only on connections where a body was left unread; test/load-linger.test.ts checks it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerOptions {
  /** Bytes of an unread body read and discarded after the response before the connection closes; 0: close at once. */
  readonly lingerBytes: number;
  /** Longest that takes, from the end of the response; 0: close at once. */
  readonly lingerMs: number;
}

const installed = new WeakSet<object>();

/** Watches every HTTP/1.x request with a body on `server` (idempotent). */
export function installLingeringClose(server: Server, options: LingerOptions): void {
  if (installed.has(server) || options.lingerBytes === 0 || options.lingerMs === 0) return;
  installed.add(server);
  // Prepended so the response's 'finish' listener is in place before any handler can write.
  server.prependListener('request', function watchUnreadBody(req: IncomingMessage, res: ServerResponse) {
    if (req.httpVersionMajor !== 1 || !announcesBody(req)) return;
    // Prepended too: it must run before Node's own 'finish' listener, which closes the socket.
    res.prependOnceListener('finish', () => {
      if (!req.complete) linger(req, req.socket, options);
    });
  });
}

function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

type DestroySoon = () => void;

/** Bounds what is left of the body of `req`, whose response has just been written. */
function linger(req: IncomingMessage, socket: Socket, { lingerBytes, lingerMs }: LingerOptions): void {
  let left = lingerBytes;
  let closing = false;
  const stop = (): void => {
    clearTimeout(timer);
    socket.off('data', count);
    req.off('end', bodyEnded);
    socket.off('end', clientClosed);
    socket.off('close', stop);
    // The prototype's again, for the rest of a keep-alive connection.
    delete (socket as { destroySoon?: DestroySoon }).destroySoon;
  };
  const cut = (): void => {
    stop();
    socket.destroy();
  };
  const count = (chunk: Buffer): void => {
    left -= chunk.length;
    if (left < 0) cut();
  };
  const bodyEnded = (): void => {
    if (!closing) stop();
  };
  const clientClosed = (): void => cut();
  const timer = setTimeout(cut, lingerMs);
  // Intentionally unref'd: the socket keeps the process alive while it is open, not this bound.
  timer.unref();
  // Adding a 'data' listener also takes the socket off the parser's direct read (Node's own
  // socket listener wrapper), so every byte passes here and is counted.
  socket.on('data', count);
  socket.once('close', stop);
  // Whatever vial's body readers left (listeners, a pause at the limit): let the rest flow away,
  // as Node's own IncomingMessage._dump does.
  req.removeAllListeners('data');
  req.resume();
  req.once('end', bodyEnded);
  // A response that closes the connection: Node calls destroySoon() next; half-close instead.
  (socket as { destroySoon?: DestroySoon }).destroySoon = function lingeringClose(): void {
    closing = true;
    if (socket.readableEnded) {
      cut();
      return;
    }
    // The parser stops here (Node detaches the same listeners for an upgrade): what follows is
    // discarded, and a request pipelined behind the refused body never runs.
    for (const listener of socket.listeners('data')) if (listener !== count) socket.off('data', listener as (chunk: Buffer) => void);
    // And Node's 'end' listener, which would report the unfinished body as a parse error.
    for (const listener of socket.listeners('end')) socket.off('end', listener as () => void);
    socket.once('end', clientClosed);
    socket.end();
    socket.resume();
  };
}
