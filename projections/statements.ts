import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import { type KeyChange, type Segment, type TableChanges, type Value, jsonValue } from './changes.ts';
import { TABLES, type TableName, type TableSpec } from './tables.ts';

/**
 * Turns a batch's folded changes into set-based statements: per table one DELETE, one
 * INSERT … ON CONFLICT DO NOTHING and one UPDATE, each reading all its rows from a single JSON
 * parameter through `jsonb_to_recordset`. Nothing is inlined into the SQL text but table and
 * column names from TABLES. Statements of one kind on different tables are independent, so
 * they travel together as data-modifying CTEs of one statement: a batch costs three round
 * trips (deletes, inserts, updates) whatever its size.
 */

type Part = RawBuilder<unknown>;

const id = (name: string) => sql.id(name);
const columnList = (columns: readonly string[], prefix?: string) =>
  sql.join(columns.map((c) => (prefix ? sql.ref(`${prefix}.${c}`) : id(c))));

function recordset(table: TableName, columns: readonly string[], rows: readonly Record<string, Value>[], extra: readonly [string, string][] = []): Part {
  const spec = TABLES[table].columns as Record<string, string>;
  const definitions = [
    ...columns.map((c) => sql`${id(c)} ${sql.raw(typeOf(spec, table, c))}`),
    ...extra.map(([name, type]) => sql`${id(name)} ${sql.raw(type)}`),
  ];
  // The planner guesses 100 rows for any set-returning function: joined with a table of a few
  // thousand rows, it then hashes the batch and scans the whole table (0.64 ms for 2 rows against
  // 2,000 tickets, and growing with the table). A LIMIT of the batch's exact size tells it the
  // truth, and it probes the key's index instead (0.13 ms).
  return sql`(SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows, jsonValue)}::jsonb) AS r(${sql.join(definitions)}) LIMIT ${sql.lit(rows.length)}) AS s`;
}

function typeOf(spec: Record<string, string>, table: string, column: string): string {
  const type = spec[column];
  if (!type) throw new Error(`${table} has no column ${column}`);
  return type;
}

function deletePart(table: TableName, changes: TableChanges): Part | undefined {
  const key = TABLES[table].key as readonly string[];
  const conditions: Part[] = [];
  const deleted = [...changes.keys.values()].filter((e) => e.deleted).map((e) => e.key);
  if (deleted.length > 0) {
    conditions.push(sql`(${columnList(key, 't')}) IN (SELECT ${columnList(key, 's')} FROM ${recordset(table, key, deleted)})`);
  }
  for (const [column, values] of changes.wipes) {
    const rows = [...values.values()].map((value) => ({ [column]: value }));
    conditions.push(sql`${sql.ref(`t.${column}`)} IN (SELECT ${sql.ref(`s.${column}`)} FROM ${recordset(table, [column], rows)})`);
  }
  if (conditions.length === 0) return undefined;
  return sql`DELETE FROM ${id(table)} AS t WHERE ${sql.join(conditions, sql` OR `)}`;
}

/** The row to insert; when the batch deleted it first, its later sets are folded in (no update needed). */
function rowToInsert(entry: KeyChange): Record<string, Value> | undefined {
  if (!entry.row) return undefined;
  if (!entry.deleted) return entry.row;
  const row = { ...entry.row };
  for (const [column, value] of entry.set) row[column] = value;
  for (const [column, value] of entry.setIfNull) if (row[column] === null) row[column] = value;
  return row;
}

function insertPart(table: TableName, changes: TableChanges): Part | undefined {
  const rows = [...changes.keys.values()].map(rowToInsert).filter((r) => r !== undefined);
  if (rows.length === 0) return undefined;
  const spec = TABLES[table] as TableSpec;
  const columns = Object.keys(spec.columns);
  const conflict = sql`ON CONFLICT (${columnList(spec.key as readonly string[])}) DO NOTHING`;
  const lookup = spec.lookup;
  if (!lookup) {
    return sql`INSERT INTO ${id(table)} (${columnList(columns)}) SELECT ${columnList(columns, 's')} FROM ${recordset(table, columns, rows)} ${conflict}`;
  }
  const select = columns.map((c) => (c === lookup.column ? sql`coalesce(${sql.ref(`s.${c}`)}, ${sql.ref(`l.${c}`)})` : sql.ref(`s.${c}`)));
  return sql`INSERT INTO ${id(table)} (${columnList(columns)}) SELECT ${sql.join(select)} FROM ${recordset(table, columns, rows)}
    LEFT JOIN ${id(lookup.from)} AS l ON ${sql.ref(`l.${lookup.on}`)} = ${sql.ref(`s.${lookup.on}`)} ${conflict}`;
}

function updatePart(table: TableName, changes: TableChanges): Part | undefined {
  const entries = [...changes.keys.values()].filter((e) => (e.set.size > 0 || e.setIfNull.size > 0) && !(e.deleted && e.row));
  if (entries.length === 0) return undefined;
  const key = TABLES[table].key as readonly string[];
  const touched = new Set<string>();
  for (const e of entries) for (const c of [...e.set.keys(), ...e.setIfNull.keys()]) touched.add(c);
  const columns = [...touched];
  // A column every row sets plainly needs no per-row mask: the common case (one kind of event).
  const plain = new Set(columns.filter((c) => entries.every((e) => e.set.has(c))));
  const masked = columns.some((c) => !plain.has(c));
  const rows = entries.map((e) => {
    const row: Record<string, Value> = { ...e.key };
    for (const [c, v] of e.setIfNull) row[c] = v;
    for (const [c, v] of e.set) row[c] = v;
    if (masked) {
      row._set = [...e.set.keys()];
      row._ifnull = [...e.setIfNull.keys()];
    }
    return row;
  });
  const assignments = columns.map((c) => {
    const target = id(c);
    const source = sql.ref(`s.${c}`);
    if (plain.has(c)) return sql`${target} = ${source}`;
    const name = sql.lit(c);
    return sql`${target} = CASE WHEN ${name} = ANY (s._set) THEN ${source} WHEN ${name} = ANY (s._ifnull) THEN coalesce(${sql.ref(`t.${c}`)}, ${source}) ELSE ${sql.ref(`t.${c}`)} END`;
  });
  const matches = key.map((c) => sql`${sql.ref(`t.${c}`)} = ${sql.ref(`s.${c}`)}`);
  const extra: [string, string][] = masked ? [['_set', 'text[]'], ['_ifnull', 'text[]']] : [];
  return sql`UPDATE ${id(table)} AS t SET ${sql.join(assignments)}
    FROM ${recordset(table, [...key, ...columns.filter((c) => !key.includes(c))], rows, extra)}
    WHERE ${sql.join(matches, sql` AND `)}`;
}

/** Several independent data-modifying statements as one: CTEs always run, to completion. */
function together(parts: readonly Part[], main?: Part): Part {
  if (parts.length === 1 && !main) return parts[0]!;
  const ctes = parts.map((part, i) => sql`${sql.raw(`w${i}`)} AS (${part})`);
  return sql`WITH ${sql.join(ctes)} ${main ?? sql`SELECT 1`}`;
}

export interface BatchStatements {
  /** statements writing the read models, in order */
  readonly statements: CompiledQuery[];
}

/**
 * The statements for `segments` (see ChangeSet), in order, with `tail` (a SELECT: the
 * checkpoint's NOTIFY) riding on the last one. `db` only compiles: names stay unqualified and
 * resolve through the transaction's search_path (the live schema or a rebuild's).
 */
export function compileSegments(db: Kysely<any>, segments: readonly Segment[], tail?: Part): CompiledQuery[] {
  const phases: Part[][] = [];
  for (const segment of segments) {
    const tables = [...segment.entries()];
    for (const build of [deletePart, insertPart, updatePart]) {
      const parts = tables.map(([table, changes]) => build(table, changes)).filter((p) => p !== undefined);
      if (parts.length > 0) phases.push(parts);
    }
  }
  const statements: Part[] = phases.map((parts, i) => (i === phases.length - 1 ? together(parts, tail) : together(parts)));
  if (phases.length === 0 && tail) statements.push(tail);
  return statements.map((s) => s.compile(db));
}

/** Runs compiled statements one after another on `db` (a transaction or a single connection). */
export async function executeAll(db: Kysely<any>, statements: readonly CompiledQuery[]): Promise<void> {
  for (const statement of statements) await db.executeQuery(statement);
}
