import { expect } from 'vitest';
import { Caller, PASSWORD, signUp, uniqueEmail } from './http.ts';

export type Role = 'owner' | 'admin' | 'developer' | 'viewer';

/** The token of an invitation link (`…/invitations/<token>`). */
export const tokenOf = (url: string): string => url.slice(url.lastIndexOf('/') + 1);

/** The owner invites `email` as `role`; returns the 201 body. */
export async function invite(owner: Caller, email: string, role: Exclude<Role, 'owner'>, headers: Record<string, string> = {}) {
  const reply = await owner.post('/manage/v1/invitations', { email, role }, headers);
  expect(reply.status, reply.text).toBe(201);
  return reply.body as { invitationId: string; url: string; expiresAt: string; mailed: boolean; position: string };
}

/**
 * A new account joins the owner's organisation as `role` (invited, registered, accepted); its
 * session then acts in that organisation. Owners join as developers and are then handed ownership.
 */
export async function join(baseUrl: string, owner: Caller, role: Role, options: { name?: string } = {}) {
  const email = uniqueEmail(role);
  const { url } = await invite(owner, email, role === 'owner' ? 'admin' : role);
  const member = await signUp(baseUrl, { email, plan: null, ...(options.name ? { name: options.name } : {}) });
  const accepted = await member.caller.post('/manage/v1/invitations/accept', { token: tokenOf(url) });
  expect(accepted.status, accepted.text).toBe(200);
  if (role === 'owner') {
    const promoted = await owner.patch(`/manage/v1/members/${member.sub}`, { role: 'owner' });
    expect(promoted.status, promoted.text).toBe(200);
  }
  return { ...member, email, password: PASSWORD };
}

export { Caller };
