import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createNotifier } from '../src/db/notifier.ts';
import { createTestDatabase } from './support/database.ts';

/** The node's NOTIFY sender, against a real Postgres and a real LISTEN connection. */

let url: string;
let pool: pg.Pool;
let listener: pg.Client;
const heard: { channel: string; payload: string }[] = [];

beforeAll(async () => {
  url = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 4 });
  listener = new pg.Client({ connectionString: url });
  await listener.connect();
  listener.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
  await listener.query('LISTEN kl_test_a');
  await listener.query('LISTEN kl_test_b');
});
afterAll(async () => {
  await listener?.end();
  await pool?.end();
});

/** Resolves once the listener has heard `payload` on kl_test_b: everything notified before it has arrived too. */
const sentinel = async (notify: (channel: string, payload: string) => Promise<void>, payload: string) => {
  await notify('kl_test_b', payload);
  await vi.waitFor(() => expect(heard.some((h) => h.payload === payload)).toBe(true), { timeout: 30_000, interval: 5 });
};

it('when several parts of a node notify in one turn of the event loop, then it is one statement, and listeners hear every notification in the order asked', async () => {
  heard.length = 0;
  const notifier = createNotifier(pool);
  const query = vi.spyOn(pool, 'query');
  try {
    const sent = [
      notifier.notify('kl_test_a'),
      notifier.notify('kl_test_b', 'first'),
      notifier.notify('kl_test_a'), // the same wake-up again: folded
      notifier.notify('kl_test_b', 'second'),
      notifier.notify('kl_test_b', 'ünïcode "quoted" \\ and \'single\''),
    ];
    await Promise.all(sent);
    expect(query).toHaveBeenCalledTimes(1);
    await sentinel((c, p) => notifier.notify(c, p), 'sentinel-1');
    expect(heard).toEqual([
      { channel: 'kl_test_a', payload: '' },
      { channel: 'kl_test_b', payload: 'first' },
      { channel: 'kl_test_b', payload: 'second' },
      { channel: 'kl_test_b', payload: 'ünïcode "quoted" \\ and \'single\'' },
      { channel: 'kl_test_b', payload: 'sentinel-1' },
    ]);
  } finally {
    query.mockRestore();
  }
});

it('when notifications are asked for while a statement is on its way, then they follow it together as the next one, in order', async () => {
  heard.length = 0;
  // one connection, held: the first statement waits for it, and everything asked meanwhile waits behind it
  const single = new pg.Pool({ connectionString: url, max: 1 });
  const held = await single.connect();
  const notifier = createNotifier(single);
  const query = vi.spyOn(single, 'query');
  try {
    const first = notifier.notify('kl_test_b', 'one');
    await vi.waitFor(() => expect(query).toHaveBeenCalledTimes(1), { interval: 1 });
    const later = [notifier.notify('kl_test_b', 'two')];
    await new Promise((resolve) => setImmediate(resolve));
    later.push(notifier.notify('kl_test_b', 'three'));
    held.release();
    await Promise.all([first, ...later]);
    expect(query).toHaveBeenCalledTimes(2);
    await sentinel((c, p) => notifier.notify(c, p), 'sentinel-2');
    expect(heard.map((h) => h.payload)).toEqual(['one', 'two', 'three', 'sentinel-2']);
  } finally {
    query.mockRestore();
    await single.end();
  }
});

it('when the statement fails, then everyone who asked in it is told, and the next notifications still go out', async () => {
  heard.length = 0;
  const notifier = createNotifier(pool);
  // NOTIFY payloads are limited to 8,000 bytes: Postgres refuses the statement, nothing of it is sent
  const tooLong = notifier.notify('kl_test_b', 'x'.repeat(9_000));
  const alongside = notifier.notify('kl_test_b', 'lost with it');
  await expect(tooLong).rejects.toThrow(/payload string too long/);
  await expect(alongside).rejects.toThrow(/payload string too long/);
  await sentinel((c, p) => notifier.notify(c, p), 'sentinel-3');
  expect(heard.map((h) => h.payload)).toEqual(['sentinel-3']);
});
