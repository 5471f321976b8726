import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditChainWriter, canonicalJson, fastCanonicalJson } from './audit-chain.ts';
import { verifyAuditExport } from './audit-verify.ts';

/**
 * The writer serialises with safe-stable-stringify for speed; the format is defined by RFC 8785
 * (the `canonicalize` library), which `verify` uses. They must give the same text for anything
 * an audit line can hold: JSON as Postgres jsonb returns it.
 */

/** JSON values as JSON.parse returns them from jsonb: any keys and strings (no lone surrogates), finite numbers. */
const jsonData = fc.jsonValue({ maxDepth: 4, noUnicodeString: false });
const line = fc.record({
  type: fc.string(),
  at: fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString()),
  actor: fc.oneof(
    fc.record({ kind: fc.constant('user' as const), sub: fc.nat(), email: fc.option(fc.emailAddress()), name: fc.option(fc.string({ unit: 'grapheme' })) }),
    fc.constant({ kind: 'cli' as const }),
  ),
  stream: fc.string(),
  position: fc.tuple(fc.nat(), fc.nat()).map(([c, p]) => `${c}/${p}`),
  clientId: fc.option(fc.string()),
  data: fc.dictionary(fc.string({ unit: 'binary' }), jsonData),
  requestId: fc.string(),
  correlationId: fc.string(),
  ip: fc.option(fc.ipV4()),
  userAgent: fc.option(fc.string({ unit: 'binary' })),
});

describe('the export serialiser and RFC 8785', () => {
  it('gives the same text as the canonicalize library for any JSON data', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), jsonData), (value) => {
        expect(fastCanonicalJson(value)).toBe(canonicalJson(value));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees on the awkward cases: key order by UTF-16 code units, escapes, numbers', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control\u007f',
      'ö': 'Latin Small Letter O With Diaeresis',
      numbers: [333333333.3333333, 1e30, 4.5, 0.002, 1e-27, -0, 9007199254740992, 1.7976931348623157e308],
      literals: [null, true, false],
      text: '\u0000\u001f"\\/\u2028\u2029\t\n',
    };
    expect(fastCanonicalJson(value)).toBe(canonicalJson(value));
    // RFC 8785 §3.2.3's sort example and §3.2.2.3's numbers, as the RFC gives them
    const sortExample = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control\u007f', 'ö': 'Latin Small Letter O With Diaeresis' };
    const sorted = '{"\\r":"Carriage Return","1":"One","\u0080":"Control\u007f","ö":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    expect(canonicalJson(sortExample)).toBe(sorted);
    expect(fastCanonicalJson(sortExample)).toBe(sorted);
    expect(canonicalJson({ n: [333333333.3333333, 1e30, 1e-27, -0] })).toBe('{"n":[333333333.3333333,1e+30,1e-27,0]}');
  });

  it('writes exports that verify, whatever the events hold', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (entries) => {
        const writer = new AuditChainWriter();
        const ordered = entries.map((e, i) => ({ ...e, position: `${i}/${i}`, at: new Date(Date.UTC(2020, 0, 1) + i).toISOString() }));
        let text = writer.header({ organisationId: 'org_1', from: null, to: '2030-01-01T00:00:00.000Z' });
        for (const entry of ordered) text += writer.event(entry);
        text += writer.end();
        expect(verifyAuditExport(text)).toMatchObject({ ok: true, events: entries.length, headHash: writer.headHash });
      }),
      { numRuns: 300 },
    );
  });
});
