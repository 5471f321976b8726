import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { type Caller, signUp } from './support/http.ts';

/** `keyledger audit export|verify` as an operator runs them, against the server's database. */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let t: TestApp;
let dir: string;
let owner: { caller: Caller; organisationId: string };

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/keyledger.js', ...args],
      { env: { ...process.env, DATABASE_URL: t.databaseUrl, EVENTSTORE_URL: '', DATA_DIR: dir, LOG_LEVEL: 'warn' } },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  // a projector thread that starts slowly on a busy machine must not fail the sign-up's read-your-writes
  t = await startTestApp({ env: { WRITE_WAIT_MS: '60000' } });
  dir = await mkdtemp(join(tmpdir(), 'keyledger-audit-cli-'));
  const { caller } = await signUp(t.url);
  const created = await caller.post('/manage/v1/clients', { name: 'Exported' });
  expect(created.status).toBe(201);
  await caller.post(`/manage/v1/clients/${created.body.clientId}/disable`);
  owner = { caller, organisationId: (await caller.get('/manage/v1/account/me')).body.organisation.id };
}, 180_000);
afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('keyledger audit', () => {
  it('when exported to a file, then it is the same file as the HTTP export of that range, and verify says ok with the count', { timeout: 90_000 }, async () => {
    const to = new Date().toISOString();
    const out = join(dir, 'audit.ndjson');
    const events = (await owner.caller.get('/manage/v1/audit')).body.entries.length as number;
    expect(events).toBeGreaterThanOrEqual(6); // sign-up, plan, client, secret, disable
    const exported = await cli('audit', 'export', '--to', to, '--out', out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(`exported ${events} events of organisation ${owner.organisationId}`);
    const file = await readFile(out, 'utf8');
    const viaHttp = await owner.caller.get(`/manage/v1/audit/export?to=${to}`);
    expect(file).toBe(viaHttp.text);

    const verified = await cli('audit', 'verify', out);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^ok: ${events} events \\(organisation ${owner.organisationId}, the first event to ${to}\\)\nlast hash: [0-9a-f]{64}\n$`));
  });

  it('when one character of the file is changed, then verify prints the line and why, and exits non-zero', { timeout: 90_000 }, async () => {
    const out = join(dir, 'edited.ndjson');
    expect((await cli('audit', 'export', '--organisation', owner.organisationId, '--out', out)).code).toBe(0);
    const lines = (await readFile(out, 'utf8')).split('\n');
    const target = lines.findIndex((l) => l.includes('"type":"ClientRegistered"'));
    lines[target] = lines[target]!.replace('"ClientRegistered"', '"ClientRegisterea"');
    await writeFile(out, lines.join('\n'));
    const verified = await cli('audit', 'verify', out);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain(`line ${target + 1}: hash mismatch`);
    expect(verified.stdout).toBe('');
  });

  it('when an export is asked with a bad time or an unknown organisation, then it names the problem and exits 2', { timeout: 90_000 }, async () => {
    const [badTime, unknownOrganisation] = await Promise.all([
      cli('audit', 'export', '--from', '2026-01-01 10:00'),
      cli('audit', 'export', '--organisation', 'org_nope'),
    ]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('from: must be an ISO-8601 date-time');
    expect(unknownOrganisation.code).toBe(2);
    expect(unknownOrganisation.stderr).toContain('no organisation org_nope');
  });

  it('when verify is given a missing file, then it says so and exits 2; --help explains it', { timeout: 90_000 }, async () => {
    const [missing, help] = await Promise.all([cli('audit', 'verify', join(dir, 'missing.ndjson')), cli('audit', 'verify', '--help')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: keyledger audit verify');
  });
});
