import { describe, expect, it } from 'vitest';
import { inlineParameters } from './inline.ts';

const compiled = (sql: string, parameters: unknown[]) => ({ sql, parameters, query: {} as never, queryId: {} as never });

describe('a batch statement with its parameters written in (one simple query per projection batch)', () => {
  it('when parameters are strings, numbers, booleans, null and string arrays, then each placeholder becomes its escaped literal', () => {
    const text = inlineParameters(compiled('SELECT $1::jsonb, $2, $3, $4, $5::text[], $10, $1', ["{\"a\":\"it's \\\\ here\"}", 5, true, null, ['x', "y'z"], 2, 3, 4, 5, 'ten']));
    // a literal with a backslash is written E'…' (pg.escapeLiteral, with its leading space)
    expect(text).toBe(`SELECT  E'{"a":"it''s \\\\\\\\ here"}'::jsonb, 5, TRUE, NULL, ARRAY['x', 'y''z']::text[], 'ten',  E'{"a":"it''s \\\\\\\\ here"}'`);
  });

  it('when a placeholder-like text stands inside a quoted literal or identifier, then it is left alone', () => {
    expect(inlineParameters(compiled(`SELECT '$1' AS "$1", 'it''s $1', $1`, ['v']))).toBe(`SELECT '$1' AS "$1", 'it''s $1', 'v'`);
  });

  it('when a parameter is of another kind (an object, an empty array, a date, NaN) or missing, then nothing is written in', () => {
    for (const value of [{ a: 1 }, [], new Date(0), Number.NaN]) expect(inlineParameters(compiled('SELECT $1', [value]))).toBeUndefined();
    expect(inlineParameters(compiled('SELECT $2', ['only one']))).toBeUndefined();
  });
});
