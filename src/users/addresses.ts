import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { z } from 'zod';
import type { AddressesTable, CoreDatabase } from '../db/schema.ts';
import { forbiddenCharacter } from '../clients/validation.ts';
import { countryName, isCountryCode } from './countries.ts';

export const MAX_ADDRESSES_PER_USER = 50;

// ---- validation ----------------------------------------------------------------------------

type Pattern = { readonly regex: RegExp; readonly message: string };

/** Trimmed, NFC, 1..max characters, no control or invisible formatting characters. */
function clean(raw: string, max: number, pattern: Pattern | undefined, ctx: z.RefinementCtx): string {
  const value = raw.trim().normalize('NFC');
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (value === '') return fail('must not be empty');
  if ([...value].length > max) return fail(`must be at most ${max} characters`);
  if (forbiddenCharacter(value)) return fail('must not contain control or invisible formatting characters');
  if (pattern && !pattern.regex.test(value)) return fail(pattern.message);
  return value;
}

const text = (max: number, pattern?: Pattern) =>
  z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).transform((raw, ctx) => clean(raw, max, pattern, ctx));

/** Optional text: absent leaves it as it is, null or "" clears it. */
const optional = (max: number, pattern?: Pattern) =>
  z
    .string({ error: 'must be a string or null' })
    .nullable()
    .optional()
    .transform((raw, ctx) => (raw === undefined ? undefined : raw === null || raw.trim() === '' ? null : clean(raw, max, pattern, ctx)));

const country = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be an ISO 3166-1 alpha-2 code such as NL') })
  .trim()
  .transform((v) => v.toUpperCase())
  .refine(isCountryCode, { message: 'must be an ISO 3166-1 alpha-2 code such as NL' });

const fields = {
  label: optional(50),
  name: text(100),
  company: optional(100),
  street: text(200),
  house_number: optional(20),
  addition: optional(20),
  postal_code: optional(20, { regex: /^[A-Za-z0-9][A-Za-z0-9 -]*$/, message: 'may contain only letters, digits, spaces and hyphens' }),
  city: text(100),
  state: optional(100),
  country,
  phone: optional(30, { regex: /^\+?[0-9][0-9 ()./-]{3,29}$/, message: 'must be a phone number such as +31 20 123 4567' }),
  is_default: z.boolean({ error: 'must be true or false' }).optional(),
};

export const newAddressSchema = z.strictObject(fields, { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object' : undefined) });
export const addressPatchSchema = z
  .strictObject(
    {
      ...fields,
      name: fields.name.optional(),
      street: fields.street.optional(),
      city: fields.city.optional(),
      country: fields.country.optional(),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object' : undefined) },
  )
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), { message: 'must change at least one field' });

export type NewAddress = z.output<typeof newAddressSchema>;
export type AddressPatch = z.output<typeof addressPatchSchema>;

// ---- store ---------------------------------------------------------------------------------

export class AddressError extends Error {
  constructor(
    readonly code: 'address_not_found' | 'address_limit',
    message: string,
  ) {
    super(message);
  }
}

const newAddressId = () => `adr_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;

export function formatAddress(row: Selectable<AddressesTable>) {
  return {
    address_id: row.address_id,
    label: row.label,
    name: row.name,
    company: row.company,
    street: row.street,
    house_number: row.house_number,
    addition: row.addition,
    postal_code: row.postal_code,
    city: row.city,
    state: row.state,
    country: row.country,
    country_name: countryName(row.country),
    phone: row.phone,
    is_default: row.is_default,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
export type AddressView = ReturnType<typeof formatAddress>;

export async function listAddresses(db: Kysely<CoreDatabase>, userSub: number): Promise<AddressView[]> {
  const rows = await db
    .selectFrom('addresses')
    .selectAll()
    .where('user_sub', '=', userSub)
    .orderBy('is_default', 'desc')
    .orderBy('created_at')
    .orderBy('address_id')
    .execute();
  return rows.map(formatAddress);
}

/** Address writes of one user are serialised on the user's row, so "one default" always holds. */
async function forUser<T>(db: Kysely<CoreDatabase>, userSub: number, work: (trx: Transaction<CoreDatabase>) => Promise<T>): Promise<T> {
  return await db.transaction().execute(async (trx) => {
    await trx.selectFrom('users').select('sub').where('sub', '=', userSub).forUpdate().executeTakeFirstOrThrow();
    return await work(trx);
  });
}

const clearDefault = (trx: Transaction<CoreDatabase>, userSub: number) =>
  trx.updateTable('addresses').set({ is_default: false }).where('user_sub', '=', userSub).where('is_default', '=', true).execute();

export async function createAddress(db: Kysely<CoreDatabase>, userSub: number, input: NewAddress, now: Date): Promise<AddressView> {
  return await forUser(db, userSub, async (trx) => {
    const { n } = await trx
      .selectFrom('addresses')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_sub', '=', userSub)
      .executeTakeFirstOrThrow();
    const count = Number(n);
    if (count >= MAX_ADDRESSES_PER_USER) {
      throw new AddressError('address_limit', `A user can have at most ${MAX_ADDRESSES_PER_USER} addresses; delete one first.`);
    }
    const isDefault = count === 0 || input.is_default === true;
    if (isDefault) await clearDefault(trx, userSub);
    const row = await trx
      .insertInto('addresses')
      .values({
        address_id: newAddressId(),
        user_sub: userSub,
        label: input.label ?? null,
        name: input.name,
        company: input.company ?? null,
        street: input.street,
        house_number: input.house_number ?? null,
        addition: input.addition ?? null,
        postal_code: input.postal_code ?? null,
        city: input.city,
        state: input.state ?? null,
        country: input.country,
        phone: input.phone ?? null,
        is_default: isDefault,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return formatAddress(row);
  });
}

const notFound = (addressId: string) => new AddressError('address_not_found', `No address ${addressId} for this user.`);

export async function updateAddress(db: Kysely<CoreDatabase>, userSub: number, addressId: string, patch: AddressPatch, now: Date): Promise<AddressView> {
  return await forUser(db, userSub, async (trx) => {
    const current = await trx.selectFrom('addresses').selectAll().where('address_id', '=', addressId).where('user_sub', '=', userSub).executeTakeFirst();
    if (!current) throw notFound(addressId);
    const { is_default: makeDefault, ...changes } = patch;
    if (makeDefault === true && !current.is_default) await clearDefault(trx, userSub);
    // The default can move to another address, not vanish: unsetting it here is ignored.
    const row = await trx
      .updateTable('addresses')
      .set({ ...changes, ...(makeDefault === true ? { is_default: true } : {}), updated_at: now })
      .where('address_id', '=', addressId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return formatAddress(row);
  });
}

export async function deleteAddress(db: Kysely<CoreDatabase>, userSub: number, addressId: string): Promise<void> {
  await forUser(db, userSub, async (trx) => {
    const deleted = await trx
      .deleteFrom('addresses')
      .where('address_id', '=', addressId)
      .where('user_sub', '=', userSub)
      .returning('is_default')
      .executeTakeFirst();
    if (!deleted) throw notFound(addressId);
    if (deleted.is_default) {
      // The oldest remaining address becomes the default.
      const next = await trx.selectFrom('addresses').select('address_id').where('user_sub', '=', userSub).orderBy('created_at').orderBy('address_id').limit(1).executeTakeFirst();
      if (next) await trx.updateTable('addresses').set({ is_default: true }).where('address_id', '=', next.address_id).execute();
    }
  });
}
