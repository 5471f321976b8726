import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { type AuditEntryLine, GENESIS_HASH, writeAuditExport } from './audit-chain.ts';
import { AuditChainVerifier, verifyAuditExport } from './audit-verify.ts';

const header = { organisationId: 'org_1', from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' };

function entry(i: number, overrides: Partial<AuditEntryLine> = {}): AuditEntryLine {
  return {
    type: i === 0 ? 'ClientRegistered' : 'DomainUpdated',
    at: new Date(Date.UTC(2026, 0, 2, 10, 0, i)).toISOString(),
    actor: { kind: 'user', sub: 7, email: 'ada@example.com', name: 'Ada Lövelace' },
    stream: 'client-kc_1',
    position: `${100 + i}/${200 + i}`,
    clientId: 'kc_1',
    data: i === 0 ? { clientId: 'kc_1', organisationId: 'org_1', name: 'Shop ✓' } : { domainId: 'dom_1', changes: { serverIps: ['203.0.113.0/24'], active: i % 2 === 0 } },
    requestId: `req-${i}`,
    correlationId: `req-${i}`,
    ip: '127.0.0.1',
    userAgent: 'test',
    ...overrides,
  };
}

const file = (n: number) => writeAuditExport(header, Array.from({ length: n }, (_, i) => entry(i)));
const lines = (text: string) => text.slice(0, -1).split('\n');
const join = (ls: string[]) => `${ls.join('\n')}\n`;

describe('writing and verifying an audit export', () => {
  it('when an export is untouched, then it verifies with its event count and last hash', () => {
    const text = file(3);
    const result = verifyAuditExport(text);
    expect(result).toEqual({ ok: true, events: 3, ...header, headHash: JSON.parse(lines(text).at(-1)!).hash });
    expect(lines(text)).toHaveLength(5);
  });

  it('when the range is empty, then the file is a header and an end line, and verifies with 0 events', () => {
    const text = writeAuditExport(header, []);
    expect(lines(text).map((l) => JSON.parse(l).record)).toEqual(['header', 'end']);
    expect(verifyAuditExport(text)).toMatchObject({ ok: true, events: 0 });
  });

  it('hashes as documented: SHA-256 of prevHash + the RFC 8785 JSON of the line without hash, chained from 64 zeros', () => {
    const ls = lines(file(2)).map((l) => JSON.parse(l) as Record<string, unknown>);
    let prev = GENESIS_HASH;
    for (const line of ls) {
      const { hash, ...rest } = line;
      expect(rest.prevHash).toBe(prev);
      expect(hash).toBe(createHash('sha256').update(prev + canonicalize(rest)!).digest('hex'));
      prev = hash as string;
    }
  });

  it('when any one character of any line is changed, then verify fails naming that line', () => {
    const ls = lines(file(3));
    for (const [index, line] of ls.entries()) {
      for (let at = 0; at < line.length; at++) {
        const changed = line.slice(0, at) + (line[at] === 'a' ? 'b' : 'a') + line.slice(at + 1);
        const result = verifyAuditExport(join(ls.with(index, changed)));
        expect(result.ok, `line ${index + 1}, character ${at}`).toBe(false);
        if (!result.ok) expect(result.line, `line ${index + 1}, character ${at}`).toBe(index + 1);
      }
    }
  });

  it('when a line is removed, then verify fails at the line after the gap (or says the file is cut short)', () => {
    const ls = lines(file(3));
    for (let i = 0; i < ls.length; i++) {
      const result = verifyAuditExport(join(ls.toSpliced(i, 1)));
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.line).toBe(i + 1);
        expect(result.problem).toBe(i === ls.length - 1 ? 'truncated' : 'prev_hash_mismatch');
      }
    }
  });

  it('when two lines swap places, or a line is repeated, then verify fails at the first line out of place', () => {
    const ls = lines(file(4));
    for (let i = 0; i + 1 < ls.length; i++) {
      const swapped = [...ls];
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      expect(verifyAuditExport(join(swapped))).toMatchObject({ ok: false, line: i + 1, problem: 'prev_hash_mismatch' });
    }
    expect(verifyAuditExport(join(ls.toSpliced(2, 0, ls[2]!)))).toMatchObject({ ok: false, line: 4, problem: 'prev_hash_mismatch' });
  });

  it('names bad JSON, a changed hash, spacing changes, a line after the end and a wrong count', () => {
    const ls = lines(file(2));
    expect(verifyAuditExport(join(ls.with(1, '{"record":')))).toMatchObject({ ok: false, line: 2, problem: 'bad_json' });
    const spaced = ls[1]!.replace('{"actor"', '{ "actor"');
    expect(verifyAuditExport(join(ls.with(1, spaced)))).toMatchObject({ ok: false, line: 2, problem: 'not_canonical' });
    expect(verifyAuditExport(ls.join('\r\n') + '\r\n')).toMatchObject({ ok: false, line: 1, problem: 'not_canonical' });
    expect(verifyAuditExport(join([...ls, ls[1]!]))).toMatchObject({ ok: false, line: 5, problem: 'after_end' });
    expect(verifyAuditExport('')).toMatchObject({ ok: false, line: 1, problem: 'truncated' });
    const loneSurrogate = ls[2]!.replace('"DomainUpdated"', '"\\ud800omainUpdated"');
    expect(loneSurrogate).not.toBe(ls[2]);
    expect(verifyAuditExport(join(ls.with(2, loneSurrogate)))).toMatchObject({ ok: false, line: 3, problem: 'bad_json' });
    expect(verifyAuditExport(join(ls.slice(0, 3)).slice(0, -20))).toMatchObject({ ok: false, line: 3, problem: 'bad_json' });
  });

  it('when the chain was rebuilt over an event outside the header range, or out of order, then verify says so', () => {
    const late = writeAuditExport(header, [entry(0), entry(1, { at: '2026-02-01T00:00:00.000Z' })]);
    expect(verifyAuditExport(late)).toMatchObject({ ok: false, line: 3, problem: 'out_of_range' });
    const backwards = writeAuditExport(header, [entry(1), entry(0)]);
    expect(verifyAuditExport(backwards)).toMatchObject({ ok: false, line: 3, problem: 'out_of_order' });
  });

  it('gives the same verdict however the text is split into chunks', () => {
    const text = file(5);
    const broken = text.replace('Ada', 'Ado');
    for (const source of [text, broken]) {
      const whole = verifyAuditExport(source);
      for (const size of [1, 7, 64, 1000]) {
        const verifier = new AuditChainVerifier();
        for (let i = 0; i < source.length; i += size) verifier.write(source.slice(i, i + size));
        expect(verifier.end()).toEqual(whole);
      }
    }
  });
});
