/**
 * vial's hello app (servers/hello-app.ts: the built package, production defaults) under
 * `app.listen()`. vial writes no per-request log lines at the default level, so nothing needs
 * redirecting; if that changes, set `log.level` there and say so in the README.
 */
import { app } from './hello-app.ts';
import { announce, benchPort, HOST } from './port.ts';

const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
