import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';
import type { UserEvent } from '../src/account/events.ts';

/** user_accounts: each end-user account's life cycle from `user-<sub>` (no personal data in it or in the events). */
export const userAccountsProjection: Projection = {
  name: 'user-accounts',
  project(event, db) {
    if (!event.stream.startsWith('user-')) return [];
    const at = eventTime(event);
    const userEvent = event as unknown as UserEvent;
    const upsert = (sub: number, values: { registered_at?: string; email_verified_at?: string; password_changed_at?: string; profile_updated_at?: string }) =>
      db
        .insertInto('user_accounts')
        .values({ user_sub: sub, status: 'active', ...values })
        .onConflict((oc) => oc.column('user_sub').doUpdateSet(values));
    switch (userEvent.type) {
      case 'UserRegistered':
        return [upsert(userEvent.data.sub, { registered_at: at })];
      case 'EmailVerified':
        return [upsert(userEvent.data.sub, { email_verified_at: at })];
      case 'PasswordChanged':
        return [upsert(userEvent.data.sub, { password_changed_at: at })];
      case 'ProfileUpdated':
        return [upsert(userEvent.data.sub, { profile_updated_at: at })];
      case 'UserErased':
        return [
          db
            .insertInto('user_accounts')
            .values({ user_sub: userEvent.data.sub, status: 'erased', erased_at: at })
            .onConflict((oc) => oc.column('user_sub').doUpdateSet({ status: 'erased', erased_at: at })),
        ];
      case 'SessionSignedOut':
      case 'ClientAccessRevoked':
      case 'StaffRoleGranted':
      case 'StaffRoleRevoked':
        return [];
      default: {
        const _exhaustive: never = userEvent;
        return _exhaustive;
      }
    }
  },
};
