import { AUDIT_EXPORT_FORMAT, GENESIS_HASH, hashLine } from './audit-chain.ts';

/**
 * Checks an audit export (format in audit-chain.ts) on its own: pure, fed text in any chunks,
 * stops at the first line that does not match and says which and why. Used by
 * `keyledger audit verify` and the tests.
 */

export type VerifyProblem =
  | 'bad_json'
  | 'bad_record'
  | 'prev_hash_mismatch'
  | 'hash_mismatch'
  | 'not_canonical'
  | 'out_of_order'
  | 'out_of_range'
  | 'count_mismatch'
  | 'after_end'
  | 'truncated';

export type VerifyResult =
  | {
      readonly ok: true;
      readonly events: number;
      readonly organisationId: string;
      readonly from: string | null;
      readonly to: string;
      /** the last line's hash: compare it with one kept apart from the file */
      readonly headHash: string;
    }
  | { readonly ok: false; readonly line: number; readonly problem: VerifyProblem; readonly message: string };

type Failure = Extract<VerifyResult, { ok: false }>;

const HEX64 = /^[0-9a-f]{64}$/;
const POSITION = /^(\d{1,20})\/(\d{1,20})$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

export class AuditChainVerifier {
  #buffer = '';
  #line = 0;
  #prevHash = GENESIS_HASH;
  #header: { organisationId: string; from: string | null; to: string } | undefined;
  #events = 0;
  #ended = false;
  #lastPosition: [bigint, bigint] | undefined;
  #failure: Failure | undefined;

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Feed the file's text, in chunks of any size. */
  write(chunk: string): void {
    if (this.#failure) return;
    const text = this.#buffer + chunk;
    let start = 0;
    let newline: number;
    while (!this.#failure && (newline = text.indexOf('\n', start)) >= 0) {
      this.#check(text.slice(start, newline));
      start = newline + 1;
    }
    this.#buffer = text.slice(start);
  }

  /** The verdict, once the whole file was written. */
  end(): VerifyResult {
    // Every line ends with a newline; text after the last one is a line cut short.
    if (!this.#failure && this.#buffer.length > 0) this.#check(this.#buffer);
    this.#buffer = '';
    if (this.#failure) return this.#failure;
    if (!this.#header) return this.#fail(1, 'truncated', 'the file is empty: an export has at least a header and an end line');
    if (!this.#ended) return this.#fail(this.#line + 1, 'truncated', 'the end line is missing: the file was cut short or its last lines removed');
    const { organisationId, from, to } = this.#header;
    return { ok: true, events: this.#events, organisationId, from, to, headHash: this.#prevHash };
  }

  #fail(line: number, problem: VerifyProblem, message: string): Failure {
    this.#failure = { ok: false, line, problem, message };
    return this.#failure;
  }

  #check(text: string): void {
    const n = ++this.#line;
    if (this.#ended) return void this.#fail(n, 'after_end', 'there is a line after the end line');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return void this.#fail(n, 'bad_json', 'not valid JSON');
    }
    if (!isObject(parsed)) return void this.#fail(n, 'bad_json', 'not a JSON object');
    const { hash, ...body } = parsed;
    if (typeof hash !== 'string' || !HEX64.test(hash) || typeof body.prevHash !== 'string') {
      return void this.#fail(n, 'bad_record', 'no hash or prevHash of 64 hex characters');
    }
    if (body.prevHash !== this.#prevHash) {
      return void this.#fail(
        n,
        'prev_hash_mismatch',
        `prevHash ${body.prevHash.slice(0, 12)}… is not the previous line's hash ${this.#prevHash.slice(0, 12)}…: a line before it was removed, added or moved`,
      );
    }
    let canonical: string;
    let expected: string;
    try {
      ({ canonical, hash: expected } = hashLine(this.#prevHash, body));
    } catch (error) {
      // JCS refuses what I-JSON excludes (a lone surrogate, a number too large for a double).
      return void this.#fail(n, 'bad_json', `not I-JSON: ${(error as Error).message}`);
    }
    if (hash !== expected) return void this.#fail(n, 'hash_mismatch', 'the hash does not match the line: the line was changed');
    // The hash covers the JSON's meaning; this covers its bytes (spacing, escapes, member order).
    if (text !== `${canonical.slice(0, -1)},"hash":"${hash}"}`) {
      return void this.#fail(n, 'not_canonical', 'the line is not written as exported (canonical JSON, hash last): it was changed');
    }
    const problem = this.#checkRecord(n, body);
    if (problem) return void this.#fail(n, problem[0], problem[1]);
    this.#prevHash = hash;
  }

  /** What the record says must fit where it stands: header first, events in order and range, end last. */
  #checkRecord(n: number, body: Record<string, unknown>): [VerifyProblem, string] | undefined {
    if (n === 1) {
      if (body.record !== 'header' || body.format !== AUDIT_EXPORT_FORMAT) return ['bad_record', `the first line is not a ${AUDIT_EXPORT_FORMAT} header`];
      const { organisationId, from, to } = body;
      if (typeof organisationId !== 'string' || !(from === null || isTime(from)) || !isTime(to)) {
        return ['bad_record', 'the header needs organisationId, from (a time or null) and to (a time)'];
      }
      this.#header = { organisationId, from, to };
      return undefined;
    }
    switch (body.record) {
      case 'event':
        return this.#checkEvent(body);
      case 'end':
        if (body.count !== this.#events) return ['count_mismatch', `the end line counts ${String(body.count)} events, the file holds ${this.#events}`];
        this.#ended = true;
        return undefined;
      default:
        return ['bad_record', 'expected an event or the end line'];
    }
  }

  #checkEvent(body: Record<string, unknown>): [VerifyProblem, string] | undefined {
    const header = this.#header!;
    const position = typeof body.position === 'string' ? POSITION.exec(body.position) : null;
    if (!position || !isTime(body.at) || typeof body.type !== 'string') return ['bad_record', 'an event needs type, at and position'];
    const current: [bigint, bigint] = [BigInt(position[1]!), BigInt(position[2]!)];
    const last = this.#lastPosition;
    if (last && (current[0] < last[0] || (current[0] === last[0] && current[1] <= last[1]))) {
      return ['out_of_order', `position ${body.position} does not come after the previous event's`];
    }
    const at = Date.parse(body.at);
    if ((header.from !== null && at < Date.parse(header.from)) || at >= Date.parse(header.to)) {
      return ['out_of_range', `the event's time ${body.at} is outside the header's range`];
    }
    this.#lastPosition = current;
    this.#events++;
    return undefined;
  }
}

/** Verifies a whole export held in memory. */
export function verifyAuditExport(text: string): VerifyResult {
  const verifier = new AuditChainVerifier();
  verifier.write(text);
  return verifier.end();
}
