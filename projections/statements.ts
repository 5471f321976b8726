import pg from 'pg';
import { type CompiledQuery, type Transaction, sql } from 'kysely';

/**
 * Runs a batch's statements in order in one round trip: each compiled statement gets its
 * parameters written in as literals (escaped by pg's own `escapeLiteral`) and the batch is sent
 * as one simple-protocol query, which Postgres executes statement by statement inside the
 * surrounding transaction. One statement at a time cost a network round trip each — the
 * projector's and the rebuild's main cost.
 */
export async function executeInOrder(trx: Transaction<any>, statements: readonly CompiledQuery[], chunk = 2_000): Promise<void> {
  for (let i = 0; i < statements.length; i += chunk) {
    const text = statements.slice(i, i + chunk).map(inline).join(';\n');
    await sql.raw(text).execute(trx);
  }
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  switch (typeof value) {
    case 'boolean':
      return value ? 'TRUE' : 'FALSE';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`cannot write ${value} into SQL`);
      return String(value);
    case 'bigint':
      return value.toString();
    case 'string':
      // pg.escapeLiteral's own result for text without quotes or backslashes, without its loop
      return /['\\]/.test(value) ? pg.escapeLiteral(value) : `'${value}'`;
    default:
      if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
      return pg.escapeLiteral(JSON.stringify(value));
  }
}

/** `$n` placeholders only ever come from kysely's compiler; identifiers are quoted, never `$`. */
export function inline(query: CompiledQuery): string {
  return query.sql.replace(/\$(\d+)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index < 0 || index >= query.parameters.length) throw new Error(`placeholder $${n} has no parameter`);
    return literal(query.parameters[index]);
  });
}
