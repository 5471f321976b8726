import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { type Caller, signUp } from './support/http.ts';
import { verifyAuditExport } from '../src/audit/audit-verify.ts';

/** The export streams: a reader that stops holds one export open; one that leaves frees it. */

let t: TestApp;
let owner: Caller;
let cookie: string;
const EVENTS = 40_000; // about 20 MB: more than the sockets' buffers hold

beforeAll(async () => {
  // a projector thread that starts slowly on a busy machine must not fail the sign-up's read-your-writes
  t = await startTestApp({ env: { WRITE_WAIT_MS: '60000' } });
  const signed = await signUp(t.url);
  owner = signed.caller;
  cookie = [...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const organisationId = (await owner.get('/manage/v1/account/me')).body.organisation.id as string;
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO rm.audit_log (commit_position, prepare_position, event_id, stream, stream_revision, type, client_id, organisation_id,
                                 data, actor, at, correlation_id, causation_id, request_id, ip, user_agent)
       SELECT 1000000000000 + i, i, gen_random_uuid(), 'client-kc_many', i, 'ClientRenamed', 'kc_many', $1,
              jsonb_build_object('name', 'Name ' || i || repeat('x', 300), 'previousName', 'Name'), $2,
              timestamptz '2020-01-01T00:00:00Z' + i * interval '1 second', 'c' || i, 'c' || i, 'c' || i, NULL, NULL
         FROM generate_series(1, $3::int) AS i`,
      [organisationId, String(signed.sub), EVENTS],
    );
  } finally {
    await client.end();
  }
}, 180_000);
afterAll(async () => {
  await t?.close();
});

const startExport = () => fetch(`${t.url}/manage/v1/audit/export`, { headers: { cookie } });

describe('streaming the export', () => {
  it('when two exports are held open by readers that stopped, then a third is 429; once a reader leaves, exports run again', { timeout: 180_000 }, async () => {
    const held = [await startExport(), await startExport()];
    for (const r of held) expect(r.status).toBe(200);
    // each has sent its first chunk and now waits for its reader
    const readers = held.map((r) => r.body!.getReader());
    for (const reader of readers) expect((await reader.read()).done).toBe(false);

    const third = await startExport();
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(((await third.json()) as { code: string }).code).toBe('too_many_exports');

    for (const reader of readers) await reader.cancel();
    // The server learns of each cancel when its socket closes; ask until it has (bounded).
    let next = await startExport();
    for (let tries = 0; next.status === 429 && tries < 500; tries++) {
      await next.arrayBuffer();
      next = await startExport();
    }
    expect(next.status).toBe(200);
    const text = await next.text();
    const result = verifyAuditExport(text);
    expect(result).toMatchObject({ ok: true });
    if (result.ok) expect(result.events).toBeGreaterThanOrEqual(EVENTS);
  });
});
