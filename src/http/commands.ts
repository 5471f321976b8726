import type { Request } from 'express';
import type { Aggregate, CommandHandler, CommandOutcome, DomainEvent } from '../eventstore/command-handler.ts';
import { ApiError } from './problem.ts';
import { metadataFor, requestIdOf } from './request.ts';

/**
 * The one way an HTTP write runs a command. Its idempotency key is the request's X-Request-Id,
 * scoped by the command handler to (stream, command type, key): the same command retried with
 * its key is stored once and answered 409 `duplicate_request`; another command that happens to
 * carry the same key is a command of its own.
 */
export async function handleRequestCommand<S, E extends DomainEvent>(
  commands: CommandHandler,
  req: Request,
  target: { readonly stream: string; readonly aggregate: Aggregate<S, E> },
  command: {
    readonly type: string;
    readonly actor: string;
    readonly at: Date;
    /** the idempotency key when it is not the request's own (defaults to its X-Request-Id) */
    readonly key?: string;
  },
  decide: (state: S, revision: bigint) => readonly E[],
): Promise<CommandOutcome<S, E>> {
  const outcome = await commands.handle(
    target.stream,
    target.aggregate,
    { type: command.type, key: command.key ?? requestIdOf(req), metadata: metadataFor(req, command.actor, command.at) },
    decide,
  );
  if (outcome.duplicate) throw duplicateRequest();
  return outcome;
}

export const duplicateRequest = () =>
  new ApiError(409, 'duplicate_request', 'Duplicate request', 'this X-Request-Id already made this change; nothing was done again');
