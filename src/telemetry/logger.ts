/**
 * The app's pino logger: vial's own (JSON lines, or one readable line per event in development),
 * one a team brings (`log.logger`), or vial's writing to a destination or transport the team chose
 * (`log.destination`). Either way vial's lines are redacted (REDACT_PATHS plus `log.redact`) and,
 * on vial's own logger, carry the active trace's ids (tracer.ts).
 */
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { VialConfig } from '../config.ts';
import { prettyDestination } from '../observe/pretty.ts';
import { CSRF_FORM_FIELD, CSRF_HEADER } from '../security/csrf.ts';
import { traceLogFields } from './tracer.ts';

/** Credentials in headers: as Node gives them (lower case). */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', CSRF_HEADER, 'x-api-key'];

/** Body and form fields that hold a secret (snake and camel case). */
const SECRET_FIELDS = [
  'password', 'passwd', 'passwordConfirmation', 'password_confirmation', 'currentPassword', 'current_password', 'newPassword', 'new_password',
  'secret', 'clientSecret', 'client_secret', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'apiKey', 'api_key', CSRF_FORM_FIELD,
];

/**
 * pino `redact` paths vial applies by default: the secret headers under `headers` at the top and
 * one level down (`req.headers`, `request.headers`, `res.headers`, ...), and the secret fields at
 * the top and up to two levels down (`body.password`, `req.body.password`, `user.password`).
 */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  ...SECRET_HEADERS.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]),
  ...SECRET_FIELDS.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
]);

export interface LoggerSources {
  /** A pino logger of the team's own: vial logs through a child of it. */
  readonly logger?: Logger | undefined;
  /** Where vial's own logger writes: a pino destination or `pino.transport({ ... })`. */
  readonly destination?: DestinationStream | undefined;
}

export function createAppLogger(config: VialConfig, sources: LoggerSources = {}): Logger {
  const paths = config.log.redact === false ? undefined : [...REDACT_PATHS, ...config.log.redact];
  const redact = paths === undefined ? undefined : { paths, censor: '[Redacted]' };
  if (sources.logger !== undefined) {
    // A child's redact replaces its parent's for the child's lines: vial's lines get vial's paths
    // plus `log.redact` (list your own there too); the team's own lines keep their settings.
    // Intentionally no level: the team's logger decides.
    return redact === undefined ? sources.logger : sources.logger.child({}, { redact });
  }
  // Development gets one readable line per event; everywhere else, JSON lines for a log pipeline.
  const destination = sources.destination ?? (config.env === 'development' ? prettyDestination() : undefined);
  const options = { name: config.name, level: config.log.level, mixin: traceLogFields, ...(redact === undefined ? {} : { redact }) };
  return destination === undefined ? pino(options) : pino(options, destination);
}
