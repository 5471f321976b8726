import type { Kysely, Selectable, Transaction } from 'kysely';
import { z } from 'zod';
import type { AddressesTable, CoreDatabase } from '../db/schema.ts';
import { forbiddenCharacter } from '../clients/validation.ts';
import { addressCountry, addressCountrySchema, toAlpha2 } from './countries.ts';

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

/** ISO 3166-1 alpha-2 or alpha-3, any case (XWMS: "NL" or "NLD"), stored as alpha-2. */
const COUNTRY_MESSAGE = 'must be an ISO 3166-1 alpha-2 or alpha-3 code such as NL or NLD';
const country = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : COUNTRY_MESSAGE) })
  .transform((v, ctx) => {
    const alpha2 = toAlpha2(v);
    if (!alpha2) {
      ctx.addIssue({ code: 'custom', message: COUNTRY_MESSAGE });
      return z.NEVER;
    }
    return alpha2;
  });

const emailAddress = z
  .string({ error: 'must be an email address or null' })
  .nullable()
  .optional()
  .transform((raw, ctx) => {
    if (raw === undefined || raw === null || raw.trim() === '') return raw === undefined ? undefined : null;
    const value = raw.trim();
    if (value.length > 254 || !z.email().safeParse(value).success) {
      ctx.addIssue({ code: 'custom', message: 'must be an email address' });
      return z.NEVER;
    }
    return value;
  });

const code = { regex: /^[A-Za-z0-9][A-Za-z0-9 ./-]*$/, message: 'may contain only letters, digits, spaces, dots, slashes and hyphens' };

/** XWMS's fields first, then Keyledger's extras (no XWMS equivalent): addition, state, is_default. */
const fields = {
  type: optional(50),
  name: optional(100),
  firstname: optional(100),
  lastname: optional(100),
  company_name: optional(100),
  email: emailAddress,
  phone: optional(30, { regex: /^\+?[0-9][0-9 ()./-]{3,29}$/, message: 'must be a phone number such as +31 20 123 4567' }),
  tax_nr: optional(50, code),
  registration_nr: optional(50, code),
  access_code: optional(50),
  street: text(200),
  house_number: optional(20),
  postal_code: optional(20, { regex: /^[A-Za-z0-9][A-Za-z0-9 -]*$/, message: 'may contain only letters, digits, spaces and hyphens' }),
  city: text(100),
  country,
  addition: optional(20),
  state: optional(100),
  is_default: z.boolean({ error: 'must be true or false' }).optional(),
};

export const newAddressSchema = z.strictObject(fields, { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object' : undefined) });
export const addressPatchSchema = z
  .strictObject(
    {
      ...fields,
      street: fields.street.optional(),
      city: fields.city.optional(),
      country: fields.country.optional(),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object' : undefined) },
  )
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), { message: 'must change at least one field' });

export type NewAddress = z.output<typeof newAddressSchema>;
export type AddressPatch = z.output<typeof addressPatchSchema>;

/**
 * Field names of Keyledger's own address API before it took XWMS's, with the XWMS name to use.
 * A partner still sending them gets a 400 that says so, never a silently dropped value.
 */
export const RENAMED_ADDRESS_FIELDS: Readonly<Record<string, string>> = {
  label: 'name',
  company: 'company_name',
  address_id: 'id (and address_id beside address, not inside it)',
  country_name: 'country',
};

/** The first old Keyledger field name in an address body, with its XWMS name. */
export function oldAddressField(address: unknown): { field: string; use: string } | undefined {
  if (typeof address !== 'object' || address === null || Array.isArray(address)) return undefined;
  const field = Object.keys(address).find((key) => Object.hasOwn(RENAMED_ADDRESS_FIELDS, key));
  return field === undefined ? undefined : { field, use: RENAMED_ADDRESS_FIELDS[field]! };
}

// ---- store ---------------------------------------------------------------------------------

export class AddressError extends Error {
  constructor(
    readonly code: 'address_not_found' | 'address_limit',
    message: string,
  ) {
    super(message);
  }
}

/** An address as the partner API returns it (XWMS's shape, Keyledger's extras after it). */
export const addressViewSchema = z.object({
  id: z.number().int().positive(),
  type: z.string().nullable(),
  name: z.string().nullable(),
  firstname: z.string().nullable(),
  lastname: z.string().nullable(),
  company_name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  tax_nr: z.string().nullable(),
  registration_nr: z.string().nullable(),
  access_code: z.string().nullable(),
  street: z.string(),
  house_number: z.string().nullable(),
  postal_code: z.string().nullable(),
  city: z.string(),
  country: addressCountrySchema,
  addition: z.string().nullable(),
  state: z.string().nullable(),
  is_default: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type AddressView = z.output<typeof addressViewSchema>;

export function formatAddress(row: Selectable<AddressesTable>): AddressView {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    firstname: row.firstname,
    lastname: row.lastname,
    company_name: row.company_name,
    email: row.email,
    phone: row.phone,
    tax_nr: row.tax_nr,
    registration_nr: row.registration_nr,
    access_code: row.access_code,
    street: row.street,
    house_number: row.house_number,
    postal_code: row.postal_code,
    city: row.city,
    country: addressCountry(row.country),
    addition: row.addition,
    state: row.state,
    is_default: row.is_default,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function listAddresses(db: Kysely<CoreDatabase>, userSub: number): Promise<AddressView[]> {
  const rows = await db
    .selectFrom('addresses')
    .selectAll()
    .where('user_sub', '=', userSub)
    .orderBy('is_default', 'desc')
    .orderBy('created_at')
    .orderBy('id')
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
        user_sub: userSub,
        type: input.type ?? null,
        name: input.name ?? null,
        firstname: input.firstname ?? null,
        lastname: input.lastname ?? null,
        company_name: input.company_name ?? null,
        email: input.email ?? null,
        phone: input.phone ?? null,
        tax_nr: input.tax_nr ?? null,
        registration_nr: input.registration_nr ?? null,
        access_code: input.access_code ?? null,
        street: input.street,
        house_number: input.house_number ?? null,
        postal_code: input.postal_code ?? null,
        city: input.city,
        country: input.country,
        addition: input.addition ?? null,
        state: input.state ?? null,
        is_default: isDefault,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return formatAddress(row);
  });
}

const notFound = (addressId: number) => new AddressError('address_not_found', `No address ${addressId} for this user.`);

export async function updateAddress(db: Kysely<CoreDatabase>, userSub: number, addressId: number, patch: AddressPatch, now: Date): Promise<AddressView> {
  return await forUser(db, userSub, async (trx) => {
    const current = await trx.selectFrom('addresses').selectAll().where('id', '=', addressId).where('user_sub', '=', userSub).executeTakeFirst();
    if (!current) throw notFound(addressId);
    const { is_default: makeDefault, ...changes } = patch;
    if (makeDefault === true && !current.is_default) await clearDefault(trx, userSub);
    // The default can move to another address, not vanish: unsetting it here is ignored.
    const row = await trx
      .updateTable('addresses')
      .set({ ...changes, ...(makeDefault === true ? { is_default: true } : {}), updated_at: now })
      .where('id', '=', addressId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return formatAddress(row);
  });
}

export async function deleteAddress(db: Kysely<CoreDatabase>, userSub: number, addressId: number): Promise<void> {
  await forUser(db, userSub, async (trx) => {
    const deleted = await trx
      .deleteFrom('addresses')
      .where('id', '=', addressId)
      .where('user_sub', '=', userSub)
      .returning('is_default')
      .executeTakeFirst();
    if (!deleted) throw notFound(addressId);
    if (deleted.is_default) {
      // The oldest remaining address becomes the default.
      const next = await trx.selectFrom('addresses').select('id').where('user_sub', '=', userSub).orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
      if (next) await trx.updateTable('addresses').set({ is_default: true }).where('id', '=', next.id).execute();
    }
  });
}
