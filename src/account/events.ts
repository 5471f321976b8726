import type { StaffEvent } from '../support/staff.ts';

/**
 * How an account came to be: the hosted sign-in page, /account/register, the management API or
 * the dashboard.
 */
export const REGISTRATION_ROUTES = ['signin', 'account', 'manage', 'dashboard'] as const;
export type RegistrationRoute = (typeof REGISTRATION_ROUTES)[number];

/** Profile fields by name: an event says which changed, never to what (values are erasable rows). */
export const PROFILE_FIELDS = [
  'name',
  'given_name',
  'family_name',
  'picture',
  'birth_date',
  'gender',
  'second_email',
  'country',
  'preferred_language',
  'socials',
] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/**
 * The security-relevant life of an end-user account (stream `user-<sub>`, beside the staff
 * events). No event carries personal data or secret material — no email, name, password, hash,
 * token, address or profile value — and these events are appended without the request's IP and
 * user agent, so erasing the user's rows erases the person: what stays is a pseudonymous number
 * and `UserErased`, the erasure marker.
 */
export type UserAccountEvent =
  | { type: 'UserRegistered'; data: { sub: number; via: RegistrationRoute } }
  | { type: 'EmailVerified'; data: { sub: number } }
  | { type: 'PasswordChanged'; data: { sub: number; via: 'change' | 'reset'; sessionsEnded: number } }
  | { type: 'ProfileUpdated'; data: { sub: number; fields: ProfileField[] } }
  | { type: 'SessionSignedOut'; data: { sub: number } }
  | { type: 'ClientAccessRevoked'; data: { sub: number; clientId: string } }
  | { type: 'UserErased'; data: { sub: number } };

export type UserAccountEventType = UserAccountEvent['type'];

/** Every event of a `user-<sub>` stream: one closed union. */
export type UserEvent = StaffEvent | UserAccountEvent;

export interface UserAccountState {
  readonly registered: boolean;
  readonly emailVerified: boolean;
  readonly erased: boolean;
}

export const initialUserAccountState: UserAccountState = { registered: false, emailVerified: false, erased: false };

export function evolveUserAccount(state: UserAccountState, event: UserEvent): UserAccountState {
  switch (event.type) {
    case 'UserRegistered':
      return { ...state, registered: true };
    case 'EmailVerified':
      return { ...state, emailVerified: true };
    case 'UserErased':
      return { ...state, erased: true };
    case 'PasswordChanged':
    case 'ProfileUpdated':
    case 'SessionSignedOut':
    case 'ClientAccessRevoked':
    case 'StaffRoleGranted':
    case 'StaffRoleRevoked':
      return state;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export const userAccountAggregate = { initial: initialUserAccountState, evolve: evolveUserAccount };

export class UserAccountError extends Error {
  constructor(
    readonly code: 'account_erased',
    message: string,
  ) {
    super(message);
  }
}

export type UserAccountCommand =
  | { type: 'RecordRegistration'; sub: number; via: RegistrationRoute }
  | { type: 'VerifyEmail'; sub: number }
  | { type: 'RecordPasswordChange'; sub: number; via: 'change' | 'reset'; sessionsEnded: number }
  | { type: 'RecordProfileUpdate'; sub: number; fields: ProfileField[] }
  | { type: 'RecordSignOut'; sub: number }
  | { type: 'RevokeClientAccess'; sub: number; clientId: string }
  | { type: 'EraseUser'; sub: number };

/** Pure: what a command on a user's stream records. An erased account records nothing more. */
export function decideUserAccount(command: UserAccountCommand, state: UserAccountState): UserAccountEvent[] {
  if (state.erased) {
    if (command.type === 'EraseUser') return [];
    throw new UserAccountError('account_erased', 'this account was deleted');
  }
  switch (command.type) {
    case 'RecordRegistration':
      return state.registered ? [] : [{ type: 'UserRegistered', data: { sub: command.sub, via: command.via } }];
    case 'VerifyEmail':
      return state.emailVerified ? [] : [{ type: 'EmailVerified', data: { sub: command.sub } }];
    case 'RecordPasswordChange':
      return [{ type: 'PasswordChanged', data: { sub: command.sub, via: command.via, sessionsEnded: command.sessionsEnded } }];
    case 'RecordProfileUpdate':
      return command.fields.length === 0 ? [] : [{ type: 'ProfileUpdated', data: { sub: command.sub, fields: command.fields } }];
    case 'RecordSignOut':
      return [{ type: 'SessionSignedOut', data: { sub: command.sub } }];
    case 'RevokeClientAccess':
      return [{ type: 'ClientAccessRevoked', data: { sub: command.sub, clientId: command.clientId } }];
    case 'EraseUser':
      return [{ type: 'UserErased', data: { sub: command.sub } }];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}
