import { createHash } from 'node:crypto';
import type { Request, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { type AccessPipeline, accessOf } from '../access/pipeline.ts';
import { XwmsError, success } from '../api/envelope.ts';
import { hasSignedIn } from '../signin/tokens.ts';
import { parseBody, subSchema } from './input.ts';
import { findProfile, userInfo } from './profiles.ts';
import { listCountries } from './countries.ts';
import {
  AddressError,
  addressPatchSchema,
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

const infoBody = z.object({ sub: subSchema, socials: flag });
const subBody = z.object({ sub: subSchema });
const ACTIONS = ['list', 'create', 'update', 'delete'] as const;
const addressId = z
  .union([z.string().trim().min(1).max(64), z.number().int().nonnegative()], { error: 'address_id must be a string' })
  .transform(String);
const crudBody = z.object({
  sub: subSchema,
  action: z.enum(ACTIONS, { error: `action must be one of ${ACTIONS.join(', ')}` }),
  address_id: addressId.optional(),
});
const createBody = z.object({ address: newAddressSchema });
const updateBody = z.object({ address: addressPatchSchema });
const languageBody = z.object({ lang: z.enum(['en', 'nl'], { error: 'lang must be en or nl' }).optional() });

const required = (field: string, action: string) => new XwmsError(400, 'invalid_request', `${field}: is required for action ${action}`, field);

/**
 * The user-data endpoints of the partner API (DESIGN §7). A user's data reaches only clients the
 * user signed in to (anyone else is told the user does not exist), and on a test-mode domain
 * only the client's test users (403 `test_user_required`, logged like every denial).
 */
export function usersPartnerApi(ctx: AppContext, pipeline: AccessPipeline) {
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

  return (router: Router): void => {
    router.post('/get/user/info', pipeline.require({ kind: 'api' }), async (req, res) => {
      const { sub, socials } = parseBody(infoBody, req.body);
      await reachableUser(req, sub);
      const profile = await findProfile(db, sub);
      if (!profile) throw new XwmsError(404, 'user_not_found', 'No user with this sub has signed in through this client.', 'sub');
      const user = userInfo(profile, { userinfo: accessOf(req).scopes.includes('userinfo'), socials });
      success(res, { user }, 'User retrieved successfully.');
    });

    router.post('/get/user/address', pipeline.require({ kind: 'api', scope: 'useraddresses' }), async (req, res) => {
      const { sub } = parseBody(subBody, req.body);
      await reachableUser(req, sub);
      success(res, { addresses: await listAddresses(db, sub) }, 'User addresses retrieved successfully.');
    });

    router.post('/user/address', pipeline.require({ kind: 'api', scope: 'useraddresses' }), async (req, res) => {
      const { sub, action, address_id } = parseBody(crudBody, req.body);
      await reachableUser(req, sub);
      try {
        switch (action) {
          case 'list':
            return success(res, { addresses: await listAddresses(db, sub) }, 'User addresses retrieved successfully.');
          case 'create': {
            if ((req.body as { address?: unknown }).address === undefined) throw required('address', action);
            const { address } = parseBody(createBody, req.body);
            return success(res, { address: await createAddress(db, sub, address, ctx.now()) }, 'Address created successfully.', 201);
          }
          case 'update': {
            if (address_id === undefined) throw required('address_id', action);
            if ((req.body as { address?: unknown }).address === undefined) throw required('address', action);
            const { address } = parseBody(updateBody, req.body);
            return success(res, { address: await updateAddress(db, sub, address_id, address, ctx.now()) }, 'Address updated successfully.');
          }
          case 'delete':
            if (address_id === undefined) throw required('address_id', action);
            await deleteAddress(db, sub, address_id);
            return success(res, { address_id, deleted: true }, 'Address deleted successfully.');
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
    });

    router.post('/global/countries', pipeline.require({ kind: 'api' }), (req, res) => {
      const { lang } = parseBody(languageBody, req.body);
      success(res, { countries: listCountries(lang ?? 'en') }, 'Countries retrieved successfully.');
    });
  };
}
