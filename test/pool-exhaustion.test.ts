import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, uniqueEmail } from './support/http.ts';
import { changeStaffRole, cliMetadata } from '../src/support/staff.ts';
import { parsePosition } from '../src/eventstore/port.ts';

// Finding 7: a request that holds a pooled connection while the append waits for another one
// deadlocks once a burst as large as the pool arrives. A pool of 3 makes that burst small.
const POOL = 3;
const BURST = 4 * POOL;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ poolSize: POOL });
});
afterAll(async () => {
  await t?.close();
});

it('when more registrations arrive at once than the pool has connections, then every one completes', async () => {
  const emails = Array.from({ length: BURST }, () => uniqueEmail('burst'));
  const replies = await Promise.all(
    emails.map((email) => new Caller(t.url).post('/manage/v1/account/register', { email, password: PASSWORD, name: 'Burst' })),
  );
  expect(replies.map((r) => r.status)).toEqual(Array(BURST).fill(201));

  // each is whole: it can log in and sees its own organisation (once the read models have it)
  expect(await t.app.ctx.watcher.waitFor(parsePosition(replies[BURST - 1]!.body.position)!, 60_000)).toBe(true);
  const caller = new Caller(t.url);
  expect((await caller.post('/manage/v1/account/login', { email: emails[BURST - 1], password: PASSWORD })).status).toBe(200);
  const me = await caller.get('/manage/v1/account/me');
  expect(me.status).toBe(200);
  expect(me.body.organisation.id).toBe(replies[BURST - 1]!.body.organisationId);
});

it('when more staff grants run at once than the pool has connections, then every one completes and takes effect', async () => {
  const emails = Array.from({ length: BURST }, () => uniqueEmail('agent'));
  for (const email of emails) {
    const registered = await new Caller(t.url).post('/manage/v1/account/register', { email, password: PASSWORD, name: 'Agent' });
    expect(registered.status).toBe(201);
  }
  const { database, commands } = t.app.ctx;
  const granted = await Promise.all(
    emails.map((email) => changeStaffRole(database, commands, { email, grant: true, metadata: cliMetadata(new Date()) })),
  );
  expect(granted.every((g) => g.changed)).toBe(true);
  const rows = await database.db.selectFrom('users').select(['email', 'staff_role']).where('email', 'in', emails).execute();
  expect(rows.map((r) => r.staff_role)).toEqual(Array(BURST).fill('support_agent'));
});

it('when a grant and a revoke of one agent race, then the row follows the later event', async () => {
  const email = uniqueEmail('racer');
  expect((await new Caller(t.url).post('/manage/v1/account/register', { email, password: PASSWORD, name: 'Racer' })).status).toBe(201);
  const { database, commands } = t.app.ctx;
  const change = (grant: boolean) => changeStaffRole(database, commands, { email, grant, metadata: cliMetadata(new Date()) });
  await Promise.all([change(true), change(false), change(true), change(false)]);
  const events = await t.app.ctx.store.readStream(`user-${(await database.db.selectFrom('users').select('sub').where('email', '=', email).executeTakeFirstOrThrow()).sub}`);
  const last = events.at(-1)!.type;
  const row = await database.db.selectFrom('users').select(['staff_role', 'staff_revision']).where('email', '=', email).executeTakeFirstOrThrow();
  expect(row.staff_role).toBe(last === 'StaffRoleGranted' ? 'support_agent' : null);
  expect(row.staff_revision).toBe(events.at(-1)!.revision.toString());
});
