/**
 * Every error code vial raises, so a mistyped code fails to compile (docs/errors.md documents each;
 * test/errors.test.ts keeps the three in step). Pure: types only.
 *
 * A plugin adds its own codes by augmentation, as `g` and ctx decorations are typed:
 *
 *   declare module 'vial' { interface VialErrorCodes { MYPLUGIN_ERR_QUOTA: true } }
 */
export interface VialErrorCodes {
  VIAL_ERR_ADMIN_OPTION: true;
  VIAL_ERR_ADMIN_SNAPSHOT_UNKNOWN: true;
  VIAL_ERR_ADMIN_TOKEN_REQUIRED: true;
  VIAL_ERR_ADMIN_UNAUTHORIZED: true;
  VIAL_ERR_ALLOCATION_SAMPLER_BUSY: true;
  VIAL_ERR_ALLOCATION_SAMPLER_STOPPED: true;
  VIAL_ERR_APP_FROZEN: true;
  VIAL_ERR_BAD_HOST: true;
  VIAL_ERR_BAD_PATH: true;
  VIAL_ERR_BAD_TARGET: true;
  VIAL_ERR_BAD_UTF8: true;
  VIAL_ERR_BLUEPRINT: true;
  VIAL_ERR_BODY_ABORTED: true;
  VIAL_ERR_BODY_TOO_LARGE: true;
  VIAL_ERR_BULKHEAD_FULL: true;
  VIAL_ERR_CACHE_NAME_REQUIRED: true;
  VIAL_ERR_CACHE_NAME_TAKEN: true;
  VIAL_ERR_CACHE_OPTIONS: true;
  VIAL_ERR_CACHE_UNBOUNDED: true;
  VIAL_ERR_CLI: true;
  VIAL_ERR_CLIENT_GONE: true;
  VIAL_ERR_CONFIG: true;
  VIAL_ERR_COOKIE_INVALID: true;
  VIAL_ERR_CSRF: true;
  VIAL_ERR_DEADLINE: true;
  VIAL_ERR_DOCTOR_TARGET: true;
  VIAL_ERR_DOCTOR_USAGE: true;
  VIAL_ERR_FIELD_TOO_LARGE: true;
  VIAL_ERR_FILE_TOO_LARGE: true;
  VIAL_ERR_HEAP_SNAPSHOT_REFUSED: true;
  VIAL_ERR_INTERNAL: true;
  VIAL_ERR_JSON_FORBIDDEN_KEY: true;
  VIAL_ERR_JSON_TOO_DEEP: true;
  VIAL_ERR_LOAD_OPTION: true;
  VIAL_ERR_MALFORMED_JSON: true;
  VIAL_ERR_MALFORMED_MULTIPART: true;
  VIAL_ERR_MEMORY_OPTIONS: true;
  VIAL_ERR_NOT_A_WORKER: true;
  VIAL_ERR_NOT_PRIMARY: true;
  VIAL_ERR_NO_CONTEXT: true;
  VIAL_ERR_OFFLOAD_CLOSED: true;
  VIAL_ERR_OFFLOAD_HANDLER_FAILED: true;
  VIAL_ERR_OFFLOAD_QUEUE_FULL: true;
  VIAL_ERR_OPENAPI: true;
  VIAL_ERR_OPEN_REDIRECT: true;
  VIAL_ERR_OVERLOADED: true;
  VIAL_ERR_PLUGIN: true;
  VIAL_ERR_PROCESS_OPTIONS: true;
  VIAL_ERR_ROUTE: true;
  VIAL_ERR_SCHEMA: true;
  VIAL_ERR_SECURITY_OPTIONS: true;
  VIAL_ERR_SEND_FILE: true;
  VIAL_ERR_SESSION_COOKIE_TOO_LARGE: true;
  VIAL_ERR_SESSION_FOREIGN: true;
  VIAL_ERR_SESSION_OPTIONS: true;
  VIAL_ERR_SESSION_RESERVED_KEY: true;
  VIAL_ERR_SESSION_STORE: true;
  VIAL_ERR_SESSION_UNSUPPORTED: true;
  VIAL_ERR_SESSION_USER_ID: true;
  VIAL_ERR_SQLITE_UNAVAILABLE: true;
  VIAL_ERR_TOO_MANY_HEADERS: true;
  VIAL_ERR_TOO_MANY_PARTS: true;
  VIAL_ERR_UNSUPPORTED_MEDIA_TYPE: true;
  VIAL_ERR_URL_FOR: true;
  VIAL_ERR_WATCHDOG_INSTALLED: true;
  VIAL_ERR_WATCHDOG_OPTION: true;
  VIAL_ERR_WEAK_SECRET: true;
  VIAL_ERR_WORKER_LISTENING: true;
  VIAL_ERR_WS_OPTIONS: true;
  VIAL_ERR_WS_ORIGIN: true;
}

/** A registered code, or `VIAL_ERR_HTTP_<status>` for `abort(status)` and the default error pages. */
export type VialErrorCode = keyof VialErrorCodes | `VIAL_ERR_HTTP_${number}`;
