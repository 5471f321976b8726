import type pg from 'pg';

/**
 * NOTIFY outside any transaction, for everyone on one node who wants to wake or tell the other
 * nodes: what is asked during one turn of the event loop goes out as one statement (one round
 * trip), and one statement at a time, so notifications reach listeners in the order they were
 * asked for. At 200 support messages a second a node used to send the event log's wake-up and
 * the socket.io adapter's message as two round trips each time; they share one now.
 */
export interface Notifier {
  /** resolves once sent; rejects if the statement failed (nothing was sent) */
  notify(channel: string, payload?: string): Promise<void>;
}

interface Waiting {
  readonly channels: string[];
  readonly payloads: string[];
  readonly done: { resolve: () => void; reject: (error: unknown) => void }[];
}

export function createNotifier(pool: pg.Pool): Notifier {
  /** asked for, not sent yet */
  let waiting: Waiting | undefined;
  let inFlight = false;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    // one statement at a time: what is asked meanwhile goes out together right after it
    if (inFlight || !waiting) return;
    const batch = waiting;
    waiting = undefined;
    inFlight = true;
    pool
      .query({
        name: 'kl_notify',
        text: 'SELECT pg_notify(n.channel, n.payload) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(channel, payload, i) ORDER BY n.i',
        values: [batch.channels, batch.payloads],
      })
      .then(
        () => {
          for (const d of batch.done) d.resolve();
        },
        (error: unknown) => {
          for (const d of batch.done) d.reject(error);
        },
      )
      .finally(() => {
        inFlight = false;
        flush();
      });
  }

  return {
    notify(channel, payload = '') {
      return new Promise<void>((resolve, reject) => {
        waiting ??= { channels: [], payloads: [], done: [] };
        const batch = waiting;
        // An identical wake-up (a short payload) already waiting says the same: Postgres folds
        // identical notifications of one transaction too. Long payloads are not compared.
        if (payload.length > 64 || !batch.channels.some((c, i) => c === channel && batch.payloads[i] === payload)) {
          batch.channels.push(channel);
          batch.payloads.push(payload);
        }
        batch.done.push({ resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
