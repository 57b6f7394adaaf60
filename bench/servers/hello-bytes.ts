/**
 * Raw node:http's answer with vial's exact hello bytes: the headers vial sends on a JSON success by
 * default (nosniff, CSP frame-ancestors, HSTS: production over https; no x-request-id, which goes
 * out with errors) and the same body. Shared by the one-process and the cluster controls, so both
 * send the same bytes as vial.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const body = JSON.stringify({ hello: 'world' });
const length = String(Buffer.byteLength(body));

/** A request listener answering 200 on `paths` and 404 elsewhere, with the same headers either way. */
export function helloBytes(paths: readonly string[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    res.writeHead(paths.includes(req.url ?? '') ? 200 : 404, [
      'content-type', 'application/json; charset=utf-8',
      'x-content-type-options', 'nosniff',
      'content-security-policy', "frame-ancestors 'none'",
      'strict-transport-security', 'max-age=31536000; includeSubDomains',
      'content-length', length,
    ]);
    res.end(body);
  };
}
