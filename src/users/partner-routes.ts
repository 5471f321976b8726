import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Handlers } from '../http/route-table.ts';
import type { PARTNER_TABLE } from '../api/contract.ts';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { type AccessPipeline, accessOf } from '../access/pipeline.ts';
import { XwmsError, success } from '../api/envelope.ts';
import { hasSignedIn } from '../signin/tokens.ts';
import { parseBody, subSchema } from './input.ts';
import { findProfile, userInfo, userInfoSchema } from './profiles.ts';
import { COUNTRY_LANGUAGES, countrySchema, listCountries } from './countries.ts';
import {
  AddressError,
  addressPatchSchema,
  addressViewSchema,
  oldAddressField,
  createAddress,
  deleteAddress,
  listAddresses,
  newAddressSchema,
  updateAddress,
} from './addresses.ts';

const flag = z
  .unknown()
  .optional()
  .transform((v) => v === true || v === 1 || v === 'true' || v === '1');

/** Request bodies of the user-data endpoints (the SDKs also add `redirect_url`: ignored). */
export const userInfoBody = z.object({ sub: subSchema, socials: flag });
export const subBody = z.object({ sub: subSchema });
export const ADDRESS_ACTIONS = ['list', 'create', 'update', 'delete'] as const;
const ADDRESS_ID_MESSAGE = 'must be the numeric id of an address (list the addresses to get it)';
const addressId = z.union([z.number().int().positive().max(2_147_483_647), z.string().trim().regex(/^[1-9]\d{0,9}$/).transform(Number)], {
  error: ADDRESS_ID_MESSAGE,
}).refine((n) => n <= 2_147_483_647, ADDRESS_ID_MESSAGE);
export const addressCrudBody = z.object({
  sub: subSchema,
  action: z.enum(ADDRESS_ACTIONS, { error: `must be one of ${ADDRESS_ACTIONS.join(', ')}` }),
  address_id: addressId.nullable().optional(),
  address: z.unknown().optional(),
});
const createBody = z.object({ address: newAddressSchema });
const updateBody = z.object({ address: addressPatchSchema });
export const countriesBody = z.object({ lang: z.enum(COUNTRY_LANGUAGES, { error: 'must be en or nl' }).optional() });

/** `data` of each answer. */
export const userInfoData = z.object({ user: userInfoSchema });
export const addressListData = z.object({ addresses: z.array(addressViewSchema) });
export const addressData = z.object({ address: addressViewSchema });
export const addressDeletedData = z.object({ id: z.number().int(), deleted: z.literal(true) });
export const countriesData = z.object({ countries: z.array(countrySchema) });

const required = (field: string, action: string) => new XwmsError(400, 'invalid_request', `${field}: is required for action ${action}`, field);

/**
 * The user-data endpoints of the partner API (DESIGN §7). A user's data reaches only clients the
 * user signed in to (anyone else is told the user does not exist), and on a test-mode domain
 * only the client's test users (403 `test_user_required`, logged like every denial).
 */
export function usersPartnerHandlers(ctx: AppContext, pipeline: AccessPipeline): Handlers<(typeof PARTNER_TABLE)['users']> {
  const { db } = ctx.database;

  async function reachableUser(req: Request, sub: number): Promise<void> {
    const grant = accessOf(req);
    if (!(await hasSignedIn(db, grant.clientId, sub))) {
      throw new XwmsError(404, 'user_not_found', 'No user with this sub has signed in through this client.', 'sub');
    }
    if (grant.testMode && !grant.testUsers.has(sub)) {
      const secret = req.headers['x-client-secret'];
      throw pipeline.deny(req, 'test_user_required', {
        clientId: grant.clientId,
        domain: grant.domain,
        secretSha256: typeof secret === 'string' ? createHash('sha256').update(secret).digest('hex') : null,
        position: grant.position,
        at: ctx.now(),
      });
    }
  }

  return {
    user_info: async (req, res) => {
      const { sub, socials } = parseBody(userInfoBody, req.body);
      await reachableUser(req, sub);
      const profile = await findProfile(db, sub);
      if (!profile) throw new XwmsError(404, 'user_not_found', 'No user with this sub has signed in through this client.', 'sub');
      const user = userInfo(profile, { userinfo: accessOf(req).scopes.includes('userinfo'), socials });
      success(res, { user }, 'User retrieved successfully.');
    },

    user_address: async (req, res) => {
      const { sub } = parseBody(subBody, req.body);
      await reachableUser(req, sub);
      success(res, { addresses: await listAddresses(db, sub) }, 'User addresses retrieved successfully.');
    },

    user_address_crud: async (req, res) => {
      const { sub, action, address_id } = parseBody(addressCrudBody, req.body);
      await reachableUser(req, sub);
      const { address } = req.body as { address?: unknown };
      const renamed = oldAddressField(address);
      if (renamed && (action === 'create' || action === 'update')) {
        const field = `address.${renamed.field}`;
        throw new XwmsError(400, 'invalid_request', `${field}: this is Keyledger's old field name; use "${renamed.use}", as XWMS names it`, field);
      }
      try {
        switch (action) {
          case 'list':
            return success(res, { addresses: await listAddresses(db, sub) }, 'User addresses retrieved successfully.');
          case 'create': {
            if (address === undefined || address === null) throw required('address', action);
            const parsed = parseBody(createBody, req.body).address;
            return success(res, { address: await createAddress(db, sub, parsed, ctx.now()) }, 'Address created successfully.', 201);
          }
          case 'update': {
            if (address_id === undefined || address_id === null) throw required('address_id', action);
            if (address === undefined || address === null) throw required('address', action);
            const patch = parseBody(updateBody, req.body).address;
            return success(res, { address: await updateAddress(db, sub, address_id, patch, ctx.now()) }, 'Address updated successfully.');
          }
          case 'delete':
            if (address_id === undefined || address_id === null) throw required('address_id', action);
            await deleteAddress(db, sub, address_id);
            return success(res, { id: address_id, deleted: true }, 'Address deleted successfully.');
          default: {
            const _exhaustive: never = action;
            return _exhaustive;
          }
        }
      } catch (error) {
        if (error instanceof AddressError) {
          throw error.code === 'address_not_found'
            ? new XwmsError(404, error.code, error.message, 'address_id')
            : new XwmsError(409, error.code, error.message);
        }
        throw error;
      }
    },

    countries: (req, res) => {
      const { lang } = parseBody(countriesBody, req.body);
      success(res, { countries: listCountries(lang ?? 'en') }, 'Countries retrieved successfully.');
    },
  };
}
