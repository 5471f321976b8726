import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { configure } from 'safe-stable-stringify';
import type { AuditEntry } from './audit-trail.ts';

/**
 * The audit export's file format (NDJSON, one record a line), and the hash chain that lets a
 * file be checked on its own. Pure: no I/O; the HTTP route, the CLI, the bench and the verifier
 * all use these functions.
 *
 *   line 1        {"record":"header","format":"keyledger-audit/1","organisationId":…,"from":…,"to":…,"prevHash":"000…0","hash":…}
 *   lines 2…n+1   {"record":"event", …the audit entry…, "prevHash":…, "hash":…}   (one event a line, oldest first)
 *   line n+2      {"record":"end","count":n,"prevHash":…,"hash":…}
 *
 * hash = hex SHA-256 of the UTF-8 bytes of  prevHash (64 hex characters)  +  the RFC 8785 (JCS)
 * canonical JSON of the line without its `hash` member. prevHash is the previous line's hash;
 * the header's is 64 zeros. A line is written as that canonical JSON with `,"hash":"…"` as its
 * last member, so every byte of it is covered. The header names the organisation and the range,
 * so a verifier knows what the file claims to hold; the end line counts the events, so a file
 * cut short (or a last event removed) does not verify.
 */

export const AUDIT_EXPORT_FORMAT = 'keyledger-audit/1';
export const GENESIS_HASH = '0'.repeat(64);

export interface ExportHeader {
  readonly organisationId: string;
  /** inclusive lower bound on the event time, or null for "from the first event" */
  readonly from: string | null;
  /** exclusive upper bound on the event time */
  readonly to: string;
}

export type AuditEntryLine = Omit<AuditEntry, 'cursor'>;

export type ChainRecord =
  | ({ record: 'header'; format: string } & ExportHeader)
  | ({ record: 'event' } & AuditEntryLine)
  | { record: 'end'; count: number };

/** hex SHA-256 of the UTF-8 bytes of prevHash followed by the line's canonical JSON */
const chainHash = (prevHash: string, canonical: string): string => createHash('sha256').update(prevHash + canonical, 'utf8').digest('hex');

/** RFC 8785 (JCS) canonical JSON, by the `canonicalize` library: what defines a line, and what `verify` checks. */
export function canonicalJson(body: object): string {
  const text = canonicalize(body);
  if (text === undefined) throw new TypeError('a chain line must be a JSON object');
  return text;
}

/**
 * The same text, about 2.5 times faster, for writing exports: safe-stable-stringify sorts keys
 * by UTF-16 code units and writes strings and numbers as JSON.stringify does, which is exactly
 * what JCS prescribes for I-JSON data (finite numbers, no lone surrogates: all Postgres jsonb can
 * hold). audit-chain.test.ts checks the two agree on every kind of line; `verify` recomputes
 * with canonicalJson, so a disagreement could never pass unnoticed.
 */
const writerJson = configure({ deterministic: true, strict: true, bigint: false, circularValue: Error });

export function fastCanonicalJson(body: object): string {
  const text = writerJson(body);
  if (text === undefined) throw new TypeError('a chain line must be a JSON object');
  return text;
}

/** The canonical JSON of a line without its hash, and the hash that chains it to `prevHash`. */
export function hashLine(prevHash: string, body: object, serialise: (body: object) => string = canonicalJson): { canonical: string; hash: string } {
  const canonical = serialise(body);
  return { canonical, hash: chainHash(prevHash, canonical) };
}

/** `{…canonical…}` + the hash as its last member. */
const withHash = (canonical: string, hash: string): string => `${canonical.slice(0, -1)},"hash":"${hash}"}`;

/** Builds an export line by line; each call returns the line with its newline. */
export class AuditChainWriter {
  #prevHash = GENESIS_HASH;
  #count = 0;
  #state: 'new' | 'open' | 'closed' = 'new';

  /** the hash of the last line written: keep it apart from the file to detect a rewritten chain */
  get headHash(): string {
    return this.#prevHash;
  }

  get count(): number {
    return this.#count;
  }

  header(header: ExportHeader): string {
    if (this.#state !== 'new') throw new Error('the header is the first line');
    this.#state = 'open';
    const { organisationId, from, to } = header;
    return this.#line({ record: 'header', format: AUDIT_EXPORT_FORMAT, organisationId, from, to, prevHash: this.#prevHash });
  }

  event(entry: AuditEntryLine): string {
    if (this.#state !== 'open') throw new Error('events go between the header and the end');
    this.#count++;
    return this.#line({ record: 'event', ...entry, prevHash: this.#prevHash });
  }

  end(): string {
    if (this.#state !== 'open') throw new Error('the end line closes an open export');
    this.#state = 'closed';
    return this.#line({ record: 'end', count: this.#count, prevHash: this.#prevHash });
  }

  #line(record: ChainRecord & { prevHash: string }): string {
    const { canonical, hash } = hashLine(this.#prevHash, record, fastCanonicalJson);
    this.#prevHash = hash;
    return `${withHash(canonical, hash)}\n`;
  }
}

/** The whole file for a list of entries (tests and small exports; the server streams instead). */
export function writeAuditExport(header: ExportHeader, entries: Iterable<AuditEntryLine>): string {
  const writer = new AuditChainWriter();
  let text = writer.header(header);
  for (const entry of entries) text += writer.event(entry);
  return text + writer.end();
}
