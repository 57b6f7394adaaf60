import { definePlugin } from '../plugin.ts';
import { nonDocumentHeaders } from './headers.ts';
import type { HeaderList } from './headers.ts';

/**
 * vial's security headers as a plugin on the seam every feature uses. The app registers it with
 * the list resolved from `security.headers`; the headers are precomputed into the dispatcher's
 * prebuilt heads, so they cost the fast path nothing beyond writing them.
 */
export const securityHeaders = definePlugin<HeaderList>({
  name: 'security-headers',
  setup(r, headers) {
    r.responseHeaders({ document: headers, data: nonDocumentHeaders(headers) });
  },
});
