import pg from 'pg';
import type { CompiledQuery } from 'kysely';

/**
 * A compiled statement with its parameters written in as literals, to travel with others as one
 * simple query (a projection batch; the count that rides on an assignment lock's round trip);
 * undefined when a parameter is of a kind not written in (the caller then sends it with its
 * parameters). Placeholders are found outside quoted literals and identifiers only.
 */
export function inlineParameters(statement: CompiledQuery): string | undefined {
  const values: string[] = [];
  for (const value of statement.parameters) {
    const literal = literalOf(value);
    if (literal === undefined) return undefined;
    values.push(literal);
  }
  let out = '';
  let quote: string | undefined;
  const text = statement.sql;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      out += c;
      if (c === quote) quote = undefined; // a doubled quote closes and reopens: the same text
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      out += c;
      continue;
    }
    const placeholder = c === '$' ? /^\$(\d+)/.exec(text.slice(i)) : null;
    if (placeholder) {
      const literal = values[Number(placeholder[1]) - 1];
      if (literal === undefined) return undefined;
      out += literal;
      i += placeholder[0].length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

function literalOf(value: unknown): string | undefined {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return `ARRAY[${value.map((v) => pg.escapeLiteral(v as string)).join(', ')}]`;
  return undefined;
}
