/**
 * A WebSocket client for the tests, on the `ws` library: opens a socket and resolves once it is
 * open, or with the HTTP answer of a refused handshake (status and JSON body), and collects the
 * messages and the close code it gets.
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';

export interface Refused {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: { error?: { code?: string; message?: string } };
}

export interface TestSocket {
  readonly ws: WebSocket;
  readonly messages: string[];
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The next message (or one already received and not yet taken). */
  next(): Promise<string>;
}

export function connect(url: string, options: ClientOptions = {}): Promise<TestSocket | Refused> {
  const ws = new WebSocket(url, options);
  const messages: string[] = [];
  let taken = 0;
  const waiting: (() => void)[] = [];
  ws.on('message', (data, isBinary) => {
    messages.push(isBinary ? `<binary ${(data as Buffer).length}>` : (data as Buffer).toString('utf8'));
    for (const w of waiting.splice(0)) w();
  });
  const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: (reason as Buffer).toString('utf8') }));
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next: async () => {
          while (messages.length <= taken) await new Promise<void>((r) => waiting.push(r));
          return messages[taken++] as string;
        },
      }),
    );
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parse(text) }));
    });
    ws.once('error', (error) => {
      if (!('status' in error)) reject(error);
    });
  });
}

export async function open(url: string, options: ClientOptions = {}): Promise<TestSocket> {
  const result = await connect(url, options);
  if ('status' in result) throw new Error(`handshake refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result;
}

export async function refused(url: string, options: ClientOptions = {}): Promise<Refused> {
  const result = await connect(url, options);
  if (!('status' in result)) {
    result.ws.terminate();
    throw new Error('the handshake was accepted');
  }
  return result;
}

function parse(text: string): Refused['body'] {
  try {
    return JSON.parse(text) as Refused['body'];
  } catch {
    return { error: { message: text } };
  }
}
