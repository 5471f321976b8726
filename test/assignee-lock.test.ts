import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAssigneeLock } from '../src/support/assignee-lock.ts';
import { createTestDatabase } from './support/database.ts';

/** An agent's assignment lock on a real Postgres: the mark it carries, and what rides on its round trip. */

let pool: pg.Pool;
beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 4 });
});
afterAll(async () => {
  await pool?.end();
});

it('when a holder records its assignment, then the next holder of that agent’s lock (another lock, as on another node) reads it as the mark, with the statement that rides along; other agents have none', async () => {
  const node1 = createAssigneeLock(pool);
  const node2 = createAssigneeLock(pool);
  const first = await node1(
    7,
    async (mark) => {
      mark.record({ commit: 900n, prepare: 12n });
      return { last: mark.last, alongside: mark.alongside };
    },
    'SELECT 41 + 1 AS answer',
  );
  expect(first).toEqual({ last: null, alongside: [{ answer: 42 }] });

  const second = await node2(7, async (mark) => ({ last: mark.last, alongside: mark.alongside }));
  expect(second).toEqual({ last: { commit: 900n, prepare: 12n }, alongside: undefined });
  expect(await node2(8, async (mark) => mark.last)).toBeNull();
});

it('when a holder fails, then the lock is free for the next; its mark is written only if it recorded one (an append it recorded is stored)', async () => {
  const lock = createAssigneeLock(pool);
  await lock(9, async (mark) => mark.record({ commit: 1n, prepare: 1n }));
  // refused before any append: nothing recorded, the mark stays
  await expect(
    lock(9, async () => {
      throw new Error('over capacity');
    }),
  ).rejects.toThrow('over capacity');
  expect(await lock(9, async (mark) => mark.last)).toEqual({ commit: 1n, prepare: 1n });
  // failed after its append was recorded: the mark names that append
  await expect(
    lock(9, async (mark) => {
      mark.record({ commit: 2n, prepare: 2n });
      throw new Error('publishing failed');
    }),
  ).rejects.toThrow('publishing failed');
  expect(await lock(9, async (mark) => mark.last)).toEqual({ commit: 2n, prepare: 2n });
});
