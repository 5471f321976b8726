import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { callApi, partnerHeaders, partnerSetup, type PartnerSetup } from './support/partner.ts';

/** `keyledger explain <requestId>` and `keyledger state <clientId> --at <time>`, with and without the server. */

const run = promisify(execFile);
let t: TestApp;
let databaseUrl: string;
const cli = (...args: string[]) =>
  run(process.execPath, ['bin/keyledger.js', ...args], { env: { ...process.env, DATABASE_URL: databaseUrl, EVENTSTORE_URL: '' } }).catch(
    (error: { code: number; stdout: string; stderr: string }) => ({ stdout: error.stdout, stderr: error.stderr, code: error.code }),
  );

let p: PartnerSetup;
let denialId: string;
let beforeRevoke: string;
beforeAll(async () => {
  t = await startTestApp();
  databaseUrl = t.databaseUrl;
  p = await partnerSetup(t.url);
  beforeRevoke = new Date().toISOString();
  await p.caller.delete(`/manage/v1/clients/${p.clientId}/secrets/${p.secretId}`);
  const refused = await callApi(t.url, '/api/whoami', partnerHeaders(p));
  expect(refused.body.code).toBe('secret_revoked');
  denialId = refused.headers.get('x-request-id')!;
  await t.app.access.log.flush();
});
afterAll(async () => {
  await t?.close();
});

it('when the server runs, then explain prints the checks, the cause and the fix, and --json the API’s shape', async () => {
  const text = await cli('explain', denialId);
  expect(text.stdout).toContain(`Request ${denialId}`);
  expect(text.stdout).toContain('Refused: secret_revoked (401)');
  expect(text.stdout).toContain('FAILED  secret_active');
  expect(text.stdout).toMatch(/Cause: ClientSecretRevoked at .+ by Ada Lovelace <.+@example.com>/);
  expect(text.stdout).toContain('Replay (events folded up to position');
  expect(text.stdout).toContain('agrees with the log');
  const json = await cli('explain', denialId, '--json', '--lang', 'nl');
  const explanation = JSON.parse(json.stdout);
  const api = (await p.caller.get(`/manage/v1/auth-decisions/${denialId}/explain?lang=nl`)).body;
  expect(explanation).toEqual(api);
  expect(explanation.cause.summary).toContain('heeft secret “Standard Key”');
}, 180_000);

it('state --at prints the client as it was; errors name the option', async () => {
  const past = await cli('state', p.clientId, '--at', beforeRevoke);
  expect(past.stdout).toContain(`Client ${p.clientId} “Partner app”, active`);
  expect(past.stdout).toMatch(new RegExp(`${p.secretId}\\s+“Standard Key”\\s+klsk_…\\w{4}\\s+active`));
  const json = JSON.parse((await cli('state', p.clientId, '--at', new Date().toISOString(), '--json')).stdout);
  expect(json.secrets[0]).toMatchObject({ secretId: p.secretId, status: 'revoked' });
  const bad = (await cli('state', p.clientId, '--at', '2026-01-01T10:00:00')) as { stderr: string; code?: number };
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--at has no time zone');
}, 180_000);

it('--help describes both commands; unknown ids exit non-zero with a reason', async () => {
  const [explainHelp, stateHelp] = await Promise.all([cli('explain', '--help'), cli('state', '--help')]);
  expect(explainHelp.stdout).toContain('why a partner API request was refused');
  expect(explainHelp.stdout).toContain('--json');
  expect(stateHelp.stdout).toContain('a client as it was at a time');
  expect(stateHelp.stdout).toContain('--at <time>');
  const unknown = (await cli('explain', 'den_00000000000000000000000000000000')) as { stderr: string; code?: number };
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('no denial');
}, 180_000);

it('when the server is stopped, then explain still works on the same data', async () => {
  await t.close();
  const text = await cli('explain', denialId);
  expect(text.stdout).toContain('Refused: secret_revoked (401)');
}, 180_000);
