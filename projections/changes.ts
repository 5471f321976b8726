import { type ColumnOf, TABLES, type TableName } from './tables.ts';

/** Values as they travel to Postgres inside one JSON parameter (bigints as strings, times as ISO text). */
export type Value = string | number | boolean | null | bigint | readonly unknown[] | { readonly [key: string]: unknown };
export type Row<T extends TableName> = { readonly [C in ColumnOf<T>]: Value };
export type Changes<T extends TableName> = { readonly [C in ColumnOf<T>]?: Value };

/** What one batch does to one row, folded from its events in order ("the last event per key wins"). */
export interface KeyChange {
  readonly key: Record<string, Value>;
  /** the row is deleted first */
  deleted: boolean;
  /** then inserted unless present (ON CONFLICT DO NOTHING) */
  row: Record<string, Value> | undefined;
  /** then these columns are set, if the row exists */
  readonly set: Map<string, Value>;
  /** and these set only where still NULL */
  readonly setIfNull: Map<string, Value>;
}

export interface TableChanges {
  readonly keys: Map<string, KeyChange>;
  /** deletes by one key column (every secret link of a domain, every scope of a client), done first */
  readonly wipes: Map<string, Map<string, Value>>;
}

/** A stretch of events whose changes fold per key; a batch is one segment unless an event cannot fold. */
export type Segment = Map<TableName, TableChanges>;

class CannotFold extends Error {}

/**
 * The changes a batch of events makes to the read models, folded per table and primary key so
 * that the batch is written with one statement per table and kind of change (delete, insert,
 * update), whatever the number of events. Projections describe each event's effect here.
 *
 * Per key the fold keeps: delete first, then insert-if-absent, then set columns. An event
 * sequence that does not fit that shape (a column set before the row's insert, which no valid
 * stream produces) starts a new segment, written after the first: the result is the same as
 * applying the events one by one.
 */
export class ChangeSet {
  readonly segments: Segment[] = [new Map()];

  private current(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private table(table: TableName): TableChanges {
    const segment = this.current();
    let changes = segment.get(table);
    if (!changes) {
      changes = { keys: new Map(), wipes: new Map() };
      segment.set(table, changes);
    }
    return changes;
  }

  private apply(table: TableName, keyValues: Record<string, Value>, change: (entry: KeyChange) => void): void {
    const run = () => {
      const changes = this.table(table);
      const id = keyId(table, keyValues);
      let entry = changes.keys.get(id);
      if (!entry) {
        entry = { key: pickKey(table, keyValues), deleted: false, row: undefined, set: new Map(), setIfNull: new Map() };
        changes.keys.set(id, entry);
      }
      change(entry);
    };
    try {
      run();
    } catch (error) {
      if (!(error instanceof CannotFold)) throw error;
      this.segments.push(new Map());
      run();
    }
  }

  /** INSERT … ON CONFLICT DO NOTHING */
  insert<T extends TableName>(table: T, row: Row<T>): void {
    this.apply(table, row, (entry) => {
      if (entry.row) return; // present already: a second insert does nothing
      if (!entry.deleted && (entry.set.size > 0 || entry.setIfNull.size > 0)) throw new CannotFold();
      entry.row = { ...row };
    });
  }

  /** INSERT … ON CONFLICT DO UPDATE SET the `update` columns */
  upsert<T extends TableName>(table: T, row: Row<T>, update: readonly ColumnOf<T>[]): void {
    this.insert(table, row);
    const changes: Record<string, Value> = {};
    for (const column of update) changes[column] = row[column];
    this.update(table, row, changes as Changes<T>);
  }

  /** UPDATE … SET `changes` WHERE key (nothing when the row does not exist) */
  update<T extends TableName>(table: T, key: Changes<T>, changes: Changes<T>): void {
    this.apply(table, key as Record<string, Value>, (entry) => {
      for (const [column, value] of Object.entries(changes) as [string, Value][]) {
        if (value === undefined) continue;
        entry.set.set(column, value);
        entry.setIfNull.delete(column);
      }
    });
  }

  /** UPDATE … SET column = value WHERE key AND column IS NULL */
  updateIfNull<T extends TableName>(table: T, key: Changes<T>, column: ColumnOf<T>, value: Value): void {
    this.apply(table, key as Record<string, Value>, (entry) => {
      if (entry.set.has(column)) {
        if (entry.set.get(column) === null) entry.set.set(column, value);
        return;
      }
      if (!entry.setIfNull.has(column)) entry.setIfNull.set(column, value);
    });
  }

  /** DELETE … WHERE key */
  delete<T extends TableName>(table: T, key: Changes<T>): void {
    this.apply(table, key as Record<string, Value>, (entry) => {
      entry.deleted = true;
      entry.row = undefined;
      entry.set.clear();
      entry.setIfNull.clear();
    });
  }

  /** DELETE … WHERE column = value, for one column of the primary key */
  deleteWhere<T extends TableName>(table: T, column: ColumnOf<T>, value: Value): void {
    if (!TABLES[table].key.includes(column as never)) throw new Error(`${table}: deleteWhere takes a primary-key column, not ${column}`);
    const changes = this.table(table);
    // Earlier changes to the rows it deletes are void; later ones apply after it (deletes go first).
    for (const [id, entry] of changes.keys) if (sameValue(entry.key[column], value)) changes.keys.delete(id);
    let values = changes.wipes.get(column);
    if (!values) {
      values = new Map();
      changes.wipes.set(column, values);
    }
    values.set(JSON.stringify(value, jsonValue), value);
  }

  /** The row this batch inserts under `key`, if it does (a later event of the batch may need it). */
  inserted<T extends TableName>(table: T, key: Changes<T>): Record<string, Value> | undefined {
    const id = keyId(table, key as Record<string, Value>);
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const entry = this.segments[i]!.get(table)?.keys.get(id);
      if (entry?.row) return entry.row;
      if (entry?.deleted) return undefined;
    }
    return undefined;
  }

  isEmpty(): boolean {
    return this.segments.every((segment) => segment.size === 0);
  }
}

function pickKey(table: TableName, values: Record<string, Value>): Record<string, Value> {
  const key: Record<string, Value> = {};
  for (const column of TABLES[table].key) {
    const value = values[column];
    if (value === undefined || value === null) throw new Error(`${table}: key column ${column} is missing`);
    key[column] = value;
  }
  return key;
}

function keyId(table: TableName, values: Record<string, Value>): string {
  return JSON.stringify(TABLES[table].key.map((column) => values[column]), jsonValue);
}

const sameValue = (a: Value | undefined, b: Value) => JSON.stringify(a, jsonValue) === JSON.stringify(b, jsonValue);

/** JSON.stringify replacer: bigints as decimal strings (Postgres reads them back exactly). */
export function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
