import { Readable } from 'node:stream';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { LONG_RUNNING, clientConfigFor } from '../db/connections.ts';
import { READ_MODEL_SCHEMA } from '../db/schema.ts';
import { parseInput } from '../http/problem.ts';
import { AuditChainWriter } from './audit-chain.ts';
import { ActorDirectory, type AuditRow, auditEntryLine, auditQuery } from './audit-trail.ts';

/**
 * The audit export: the organisation's trail for a time range as a hash-chained NDJSON stream
 * (format in audit-chain.ts), read from Postgres through a cursor. It is pulled, not pushed: rows
 * are fetched only as fast as the consumer (an HTTP response, a file) takes the text, so memory
 * stays flat however many events the range holds.
 */

export interface ExportRange {
  readonly organisationId: string;
  /** inclusive; null = from the first event */
  readonly from: Date | null;
  /** exclusive */
  readonly to: Date;
}

const EPOCH = Date.UTC(1970, 0, 1);
const time = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with a time zone (Z or ±hh:mm)' });

/** `from` and `to` as sent (query string or CLI flags), checked against `now`. */
export function parseExportRange(input: unknown, now: Date): { from: Date | null; to: Date } {
  const inRange = time
    .transform((text) => new Date(text))
    .refine((d) => d.getTime() >= EPOCH, 'must not be before 1970-01-01T00:00:00Z')
    .refine((d) => d.getTime() <= now.getTime(), 'must not be in the future');
  const schema = z
    .strictObject({ from: inRange.optional(), to: inRange.optional() })
    .refine((r) => !r.from || !r.to || r.from.getTime() <= r.to.getTime(), { message: 'must not be before from', path: ['to'] });
  const range = parseInput(schema, input);
  // Resolving an open end to "now" makes the file say exactly what it covers.
  return { from: range.from ?? null, to: range.to ?? now };
}

/** How many events the range holds (for a progress bar). */
export async function countAuditRange(database: Database, range: ExportRange): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(`${READ_MODEL_SCHEMA}.audit_log`)}
     WHERE organisation_id = ${range.organisationId}
       AND at < ${range.to.toISOString()}::timestamptz
       ${range.from ? sql`AND at >= ${range.from.toISOString()}::timestamptz` : sql``}`.execute(database.db);
  return Number(rows[0]?.n ?? 0);
}

export interface AuditExport {
  /** the file's text, in chunks of about 64 kB or a batch of rows */
  readonly readable: Readable;
  /** events written so far, and the hash of the last line written */
  summary(): { events: number; headHash: string };
}

const CHUNK_CHARS = 64 * 1024;
const BATCH_ROWS = 1_000;

export function exportAuditTrail(database: Database, range: ExportRange): AuditExport {
  const writer = new AuditChainWriter();
  const header = { organisationId: range.organisationId, from: range.from?.toISOString() ?? null, to: range.to.toISOString() };
  const query = auditQuery({ organisationId: range.organisationId, ...(range.from ? { from: range.from } : {}), to: range.to }).compile(database.db);

  async function* text(): AsyncGenerator<string> {
    const actors = new ActorDirectory(database.db);
    // Its own connection, without the request path's query timeout: pg counts that timeout from
    // the cursor's opening to its end, so an export longer than DB_QUERY_TIMEOUT_MS (a big
    // organisation, a slow reader, a busy server) was cut off mid-file.
    const client = new pg.Client(clientConfigFor(database.connectionString, 'keyledger-audit-export', LONG_RUNNING));
    // a dropped connection fails the read in flight, which ends the export; nothing else to do here
    client.on('error', () => {});
    await client.connect();
    const cursor = client.query(new Cursor<AuditRow>(query.sql, [...query.parameters]));
    let finished = false;
    // The next batch is on its way while this one is hashed and written.
    let next: Promise<AuditRow[]> | undefined;
    try {
      let chunk = writer.header(header);
      next = cursor.read(BATCH_ROWS);
      while (next) {
        const rows: AuditRow[] = await next;
        next = rows.length === BATCH_ROWS ? cursor.read(BATCH_ROWS) : undefined;
        await actors.load(rows);
        for (const row of rows) chunk += writer.event(auditEntryLine(row, actors));
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
      await cursor.close();
      yield chunk + writer.end();
      finished = true;
    } finally {
      // A consumer that went away (or a failed read) leaves the cursor mid-way: the connection goes
      // with it; the read still in flight then fails, and nobody waits for it.
      if (!finished) next?.catch(() => {});
      await client.end().catch(() => {});
    }
  }

  return {
    readable: Readable.from(text(), { objectMode: false }),
    summary: () => ({ events: writer.count, headHash: writer.headHash }),
  };
}
