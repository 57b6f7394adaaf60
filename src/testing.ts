/**
 * vial/testing: what a team puts in its own test suite.
 *
 * - The test client (`testClient(app)`): requests through the app's real request listener
 *   in-process, with a cookie jar, as a same-origin browser would send them; WebSockets in-process
 *   (`client.websocket(path)`) or over a real socket (`openWebSocket(url)`).
 * - The doctor's checks as test helpers (issue 14), against an app in-process or a running
 *   server: `checkRace` / `assertNoRace` replay a route under many identities at once (failure 4),
 *   `checkGrowth` / `assertNoGrowth` send many distinct keys and judge the memory growth per key
 *   (failure 1). docs/doctor.md shows them in use.
 */
export { TestClient, encodeTestRequest, testClient } from './testing/client.ts';
export type { TestRequest, TestResponse } from './testing/client.ts';
export { openWebSocket, TestWebSocket, WebSocketRefusedError } from './websocket/testing.ts';
export type { TestWebSocketOptions } from './websocket/testing.ts';

export type { CheckTarget } from './testing/check-target.ts';
export { assertNoRace, checkRace } from './testing/race-check.ts';
export type { CheckVerdict, RaceCheckOptions, RaceCheckResult, RaceCrossing } from './testing/race-check.ts';
export { adminHeapAfterGc, assertNoGrowth, checkGrowth } from './testing/growth-check.ts';
export type { GrowthCheckOptions, GrowthCheckResult, GrowthMemory } from './testing/growth-check.ts';
