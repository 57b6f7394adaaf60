/**
 * Raw node:http sending the headers vial sends on a JSON success by default (hello-bytes.ts): what
 * those headers cost on their own, with no framework at all.
 */
import { createServer } from 'node:http';
import { helloBytes } from './hello-bytes.ts';
import { listenAndAnnounce } from './port.ts';

// /hello-async too: raw node:http has no async path, so its figure is the limit for both scenarios.
listenAndAnnounce(createServer(helloBytes(['/hello', '/hello-async'])));
