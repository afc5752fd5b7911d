/**
 * Basic authentication under a password-guessing flood: bcrypt runs on a worker thread, so a client
 * whose password was already checked is answered at once while guesses wait for the worker; only
 * successful verdicts are remembered, so guesses cannot push them out; past MAX_PENDING_CHECKS
 * waiting checks, a guess is refused at once with 503.
 */
import bcrypt from 'bcryptjs';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { MAX_PENDING_CHECKS, PasswordChecker } from '../../src/password-check';
import { webProtection } from '../../src/web-config';
import type { WebConfig } from '../../src/web-config';

const PASSWORD = 'right-horse-battery';
// Cost 10, as htpasswd -B writes by default: tens of milliseconds per check.
const HASH = bcrypt.hashSync(PASSWORD, 10);
const basic = (password: string) => `Basic ${Buffer.from(`prometheus:${password}`).toString('base64')}`;

let server: Server;
let url: string;
const checker = new PasswordChecker();

beforeAll(async () => {
  const config: WebConfig = { headers: {}, users: new Map([['prometheus', HASH]]) };
  const app = express();
  app.use(webProtection(() => config, checker));
  app.get('/-/healthy', (_req, res) => void res.type('text/plain').send('Healthy\n'));
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await checker.close();
});

async function get(password: string): Promise<number> {
  const res = await request(`${url}/-/healthy`, { headers: { authorization: basic(password) }, headersTimeout: 60_000, bodyTimeout: 60_000 });
  await res.body.dump();
  return res.statusCode;
}

test('a checked client is answered while guesses wait for the worker; guesses never evict its verdict', async () => {
  expect(await get(PASSWORD)).toBe(200);
  const finished: string[] = [];
  const guesses = Array.from({ length: MAX_PENDING_CHECKS + 8 }, (_, i) =>
    get(`guess-${i}`).then((status) => {
      finished.push(`guess ${status}`);
      return status;
    }),
  );
  // Let the guesses reach the server before the checked client asks again.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const checked = await get(PASSWORD);
  finished.push(`checked ${checked}`);
  const statuses = await Promise.all(guesses);
  expect(checked).toBe(200);
  // The checked client's answer came before the guesses that waited for bcrypt.
  expect(finished.indexOf('checked 200')).toBeLessThan(finished.lastIndexOf('guess 401'));
  // Past the bound, guesses are refused without waiting; the others are checked and denied.
  expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
  expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
  // After the flood, the checked client is still answered from its remembered verdict.
  const again = get(PASSWORD).then((status) => `checked ${status}`);
  const guess = get('one-more-guess').then((status) => `guess ${status}`);
  expect(await Promise.race([again, guess])).toBe('checked 200');
  await guess;
});

test('a wrong password is denied with 401 and a Basic challenge; the right one passes', async () => {
  const res = await request(`${url}/-/healthy`, { headers: { authorization: basic('nope') } });
  await res.body.dump();
  expect(res.statusCode).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Basic');
  expect(await get(PASSWORD)).toBe(200);
});
