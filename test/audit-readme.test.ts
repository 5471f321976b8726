import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';

/** The README's audit example runs as written: curl against the server, the CLI against its database. */

let t: TestApp;
beforeAll(async () => {
  // a projector thread that starts slowly on a busy machine must not fail the sign-up's read-your-writes
  t = await startTestApp({ env: { WRITE_WAIT_MS: '60000' } });
}, 180_000);
afterAll(async () => {
  await t?.close();
});

describe('the README audit example', () => {
  it('runs as written: the trail, a page after `next`, filters, an export that verifies, and an edit that does not', { timeout: 180_000 }, async () => {
    const repo = fileURLToPath(new URL('..', import.meta.url));
    const readme = await readFile(join(repo, 'README.md'), 'utf8');
    const block = /## Audit trail and export\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();

    // what the walk-through above it leaves behind: a logged-in cookie jar and a client
    const { caller } = await signUp(t.url, { email: 'ada@example.com', name: 'Ada' });
    const created = await caller.post('/manage/v1/clients', { name: 'Webshop' });
    expect(created.status).toBe(201);
    const dir = await mkdtemp(join(tmpdir(), 'keyledger-readme-audit-'));
    const jar = [...caller.cookies].map(([name, value]) => `127.0.0.1\tFALSE\t/\tFALSE\t0\t${name}\t${value}`).join('\n');
    await writeFile(join(dir, 'jar'), `# Netscape HTTP Cookie File\n${jar}\n`);

    const script = block!
      .replace('B=http://localhost:3000/manage/v1', `B=${t.url}/manage/v1; C=${created.body.clientId}`)
      .replaceAll('npx keyledger', `node ${join(repo, 'bin/keyledger.js')}`)
      // any date works for the last command; this one is in the past on any clock
      .replace('--from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z', '--from 2020-01-01T00:00:00Z');
    try {
      // -f: an HTTP error fails the step; set -e: a failed step fails the example
      const { stdout, stderr } = await promisify(execFile)('bash', ['-c', `set -euo pipefail\ncurl() { command curl -fS "$@"; echo; }\n${script}`], {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: t.databaseUrl, EVENTSTORE_URL: '', DATA_DIR: dir },
      });
      expect(stdout).toContain('"type":"OrganisationCreated"');
      expect(stdout).toMatch(/"next":"[A-Za-z0-9_-]+"/);
      expect(stdout).toContain('"type":"ClientSecretIssued"');
      expect(stdout).toMatch(/^ok: \d+ events \(organisation org_/m);
      expect(stderr).toContain('line 3: hash mismatch: the hash does not match the line: the line was changed');
      expect(stdout).toContain('exit code 1');
      const q1 = await readFile(join(dir, 'q1.ndjson'), 'utf8');
      expect(q1.split('\n')[0]).toContain('"record":"header"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
