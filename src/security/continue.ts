/**
 * Expect: 100-continue (RFC 9110 §10.1.1), answered only once the body will really be read.
 *
 * Node's default sends "100 Continue" as soon as the headers arrive, so a client uploads its body
 * even when admission (503), CSRF (403) or the body limit (413) is about to refuse it. With a
 * 'checkContinue' listener Node sends nothing itself: the request goes to the dispatcher as usual,
 * and the body readers (request.ts) send the 100 on their first read, which only happens after
 * admission and the CSRF guard said yes and the declared length is within the limit. A request
 * refused before that gets its final status without a 100, and Node closes the connection after
 * it (the client may already be sending the body), as the RFC asks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { definePlugin } from '../plugin.ts';
import { awaitingContinue } from '../internal/continue.ts';

export const expectContinue = definePlugin({
  name: 'expect-continue',
  setup(r) {
    r.onServer((server) => {
      const onCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
        awaitingContinue.set(req, res);
        server.emit('request', req, res);
      };
      server.on('checkContinue', onCheckContinue);
      return () => server.off('checkContinue', onCheckContinue);
    });
  },
});
