import pg from 'pg';

export const READ_MODEL_TABLES = [
  'checkpoints',
  'organisations',
  'members',
  'invitations',
  'clients',
  'client_secrets',
  'client_domains',
  'secret_links',
  'redirect_uris',
  'client_scopes',
  'test_users',
  'audit_log',
  'tickets',
  'ticket_messages',
] as const;

/** Every row of every read-model table in `schema`, as JSON text, in a stable order. */
export async function dumpReadModels(connectionString: string, schema: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const out: Record<string, string[]> = {};
    for (const table of READ_MODEL_TABLES) {
      const { rows } = await client.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)} t ORDER BY 1`,
      );
      out[table] = rows.map((r) => r.row);
    }
    return out;
  } finally {
    await client.end();
  }
}
