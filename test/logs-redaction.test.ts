/**
 * Logs as teams run them: vial's own logger writing to a destination of the team's choosing, a
 * logger the team brings, and secrets redacted by default from every line vial writes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError, Vial } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import { pollUntil } from './helpers/wait.ts';

function capture(): { lines: Record<string, unknown>[]; destination: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

const SECRETS = {
  req: { headers: { authorization: 'Bearer abc', cookie: 'vial_session=s3cret', 'x-csrf-token': 'tok', accept: 'text/html' } },
  res: { headers: { 'set-cookie': ['vial_session=new'], 'content-type': 'text/html' } },
  body: { user: 'ada', password: 'hunter2', _csrf: 'masked', newPassword: 'n3w' },
  form: { password_confirmation: 'hunter2' },
  password: 'top-level',
};

describe('log lines', () => {
  it("redact Authorization, Cookie, Set-Cookie, the CSRF header and field, and password-like fields by default", () => {
    const { lines, destination } = capture();
    const app = new Vial({ env: 'test', log: { level: 'info', destination } });
    app.log.info(SECRETS, 'a line with secrets');
    const line = lines[0] as Record<string, Record<string, Record<string, unknown>>>;
    assert.deepEqual(line['req'], { headers: { authorization: '[Redacted]', cookie: '[Redacted]', 'x-csrf-token': '[Redacted]', accept: 'text/html' } });
    assert.deepEqual(line['res'], { headers: { 'set-cookie': '[Redacted]', 'content-type': 'text/html' } });
    assert.deepEqual(line['body'], { user: 'ada', password: '[Redacted]', _csrf: '[Redacted]', newPassword: '[Redacted]' });
    assert.deepEqual(line['form'], { password_confirmation: '[Redacted]' });
    assert.equal(line['password'], '[Redacted]');
  });

  it('redact in a handler through ctx.log, and the original object is left as it was', async () => {
    const { lines, destination } = capture();
    const app = new Vial({ env: 'test', log: { level: 'info', destination } });
    const body = { password: 'hunter2' };
    app.post('/login', { csrf: false }, (ctx) => {
      ctx.log.info({ body }, 'login attempt');
      return { kept: body.password };
    });
    const res = await new TestClient(app).post('/login', { json: {} });
    assert.deepEqual(res.json(), { kept: 'hunter2' });
    const line = lines.find((l) => l['msg'] === 'login attempt');
    assert.deepEqual(line?.['body'], { password: '[Redacted]' });
  });

  it('add the app\'s own paths with log.redact, and log.redact: false turns redaction off', () => {
    const extra = capture();
    new Vial({ env: 'test', log: { level: 'info', destination: extra.destination, redact: ['card.number'] } }).log.info({ card: { number: '4111', brand: 'visa' }, password: 'x' });
    assert.deepEqual(extra.lines[0]?.['card'], { number: '[Redacted]', brand: 'visa' });
    assert.equal(extra.lines[0]?.['password'], '[Redacted]');
    const off = capture();
    new Vial({ env: 'test', log: { level: 'info', destination: off.destination, redact: false } }).log.info({ password: 'x' });
    assert.equal(off.lines[0]?.['password'], 'x');
  });

  it("go through a team's own pino logger, redacted, at that logger's level, leaving the team's own lines alone", () => {
    const { lines, destination } = capture();
    const logger = pino({ level: 'warn', base: { service: 'shop' } }, destination);
    const app = new Vial({ env: 'test', log: { logger } });
    app.log.info({ password: 'x' }, 'below the team logger level');
    app.log.warn({ password: 'x' }, 'from vial');
    logger.warn({ password: 'x' }, 'from the team');
    assert.deepEqual(lines.map((l) => [l['msg'], l['service'], l['password']]), [
      ['from vial', 'shop', '[Redacted]'],
      ['from the team', 'shop', 'x'],
    ]);
  });

  it('refuse log.logger together with log.destination, and redact paths that are not strings', () => {
    const { destination } = capture();
    assert.throws(() => new Vial({ env: 'test', log: { logger: pino(), destination } }), (e: unknown) => e instanceof ConfigError && /log\.logger and log\.destination/.test(e.message));
    assert.throws(() => new Vial({ env: 'test', log: { redact: [''] } }), (e: unknown) => e instanceof ConfigError && /log\.redact/.test(e.message));
  });

  it('write to a pino transport given as log.destination', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vial-log-'));
    const file = join(dir, 'app.log');
    const transport = pino.transport({ target: 'pino/file', options: { destination: file } });
    const app = new Vial({ env: 'test', log: { level: 'info', destination: transport } });
    app.log.info({ headers: { authorization: 'Bearer abc' } }, 'through a worker thread');
    const text = await pollUntil('the line in the transport\'s file', async () => (await readFile(file, 'utf8').catch(() => '')).trim() || undefined);
    transport.end();
    await rm(dir, { recursive: true, force: true });
    const written = JSON.parse(text) as Record<string, unknown>;
    assert.equal(written['msg'], 'through a worker thread');
    assert.deepEqual(written['headers'], { authorization: '[Redacted]' });
  });
});
