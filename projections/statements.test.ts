import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CompiledQuery } from 'kysely';
import { inline } from './statements.ts';

const q = (sql: string, parameters: unknown[]) => ({ ...CompiledQuery.raw(sql, parameters) });

describe('inlining compiled statements', () => {
  it('writes every parameter as a literal Postgres reads back exactly', () => {
    expect(inline(q('select $1, $2, $3, $4, $5', ['plain', "it's", 'back\\slash', null, true]))).toBe(
      `select 'plain', ${pg.escapeLiteral("it's")}, ${pg.escapeLiteral('back\\slash')}, NULL, TRUE`,
    );
    expect(inline(q('select $1, $2, $3', [42, 7n, new Date('2026-01-01T00:00:00Z')]))).toBe("select 42, 7, '2026-01-01T00:00:00.000Z'");
  });

  it('replaces $10 as ten, not as $1 followed by 0', () => {
    const params = Array.from({ length: 10 }, (_, i) => `p${i + 1}`);
    expect(inline(q('select $1, $10', params))).toBe("select 'p1', 'p10'");
  });

  it('does not rescan inserted text for placeholders', () => {
    expect(inline(q('select $1, $2', ['$2', 'x']))).toBe("select '$2', 'x'");
  });

  it('refuses values it cannot write', () => {
    expect(() => inline(q('select $1', [Number.NaN]))).toThrow();
    expect(() => inline(q('select $2', ['only one']))).toThrow();
  });
});
