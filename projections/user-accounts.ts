import type { Projection } from './projection.ts';
import { eventTime } from './projection.ts';
import type { UserEvent } from '../src/account/events.ts';

type Dates = 'registered_at' | 'email_verified_at' | 'password_changed_at' | 'profile_updated_at';

/** user_accounts: each end-user account's life cycle from `user-<sub>` (no personal data in it or in the events). */
export const userAccountsProjection: Projection = {
  name: 'user-accounts',
  project(event, changes) {
    if (!event.stream.startsWith('user-')) return;
    const at = eventTime(event);
    const userEvent = event as unknown as UserEvent;
    const stamp = (sub: number, column: Dates) =>
      changes.upsert(
        'user_accounts',
        { user_sub: sub, status: 'active', registered_at: null, email_verified_at: null, password_changed_at: null, profile_updated_at: null, erased_at: null, [column]: at },
        [column],
      );
    switch (userEvent.type) {
      case 'UserRegistered':
        return stamp(userEvent.data.sub, 'registered_at');
      case 'EmailVerified':
        return stamp(userEvent.data.sub, 'email_verified_at');
      case 'PasswordChanged':
        return stamp(userEvent.data.sub, 'password_changed_at');
      case 'ProfileUpdated':
        return stamp(userEvent.data.sub, 'profile_updated_at');
      case 'UserErased':
        return changes.upsert(
          'user_accounts',
          { user_sub: userEvent.data.sub, status: 'erased', registered_at: null, email_verified_at: null, password_changed_at: null, profile_updated_at: null, erased_at: at },
          ['status', 'erased_at'],
        );
      case 'SessionSignedOut':
      case 'ClientAccessRevoked':
      case 'StaffRoleGranted':
      case 'StaffRoleRevoked':
        return;
      default: {
        const _exhaustive: never = userEvent;
        return _exhaustive;
      }
    }
  },
};
