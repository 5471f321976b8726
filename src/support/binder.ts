import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import type { EventMetadata } from '../eventstore/port.ts';
import { UNSTORABLE_MESSAGE, findUnstorable, isUnstorableTextError } from '../db/storable.ts';
import { type LocalState, type SupportLimits, type SupportSocket, cutOff, overLimit } from './channel.ts';
import { takeEventToken } from './limits.ts';
import { type AckResponse, SupportError, describeIssues, failure } from './protocol.ts';

export type Handler<T> = (input: T) => Promise<Record<string, unknown>>;

export interface Binder {
  /**
   * One event: bucket → in-flight cap → zod → handler → `{ok: true, …}`, or `{ok: false, error}`
   * for anything refused or thrown. A missing ack callback is fine; nothing is thrown out of here.
   */
  on<T>(event: string, schema: ZodType<T>, handler: Handler<T>): void;
  /** audit metadata for an event this socket caused */
  metadata(): EventMetadata;
}

export function createBinder(socket: SupportSocket, state: LocalState, deps: { limits: SupportLimits; logger: Logger; now: () => Date }): Binder {
  const { limits, logger } = deps;
  const { sub } = socket.data;
  return {
    on(event, schema, handler) {
      socket.on(event, async (...args: unknown[]) => {
        const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (response: AckResponse) => void) : undefined;
        const reply = (response: AckResponse) => {
          if (!ack) return;
          try {
            ack(response);
          } catch (error) {
            logger.warn({ err: error, event }, 'acknowledgement failed');
          }
        };
        // Still asking while earlier answers have not reached it: stop here, do not queue more.
        if (overLimit(socket, limits)) return cutOff(socket, logger);
        if (!takeEventToken(state, limits, deps.now().getTime())) return reply(failure('rate_limited', 'too many events: slow down'));
        if (state.inFlight >= limits.inFlight) {
          return reply(failure('too_many_pending', `at most ${limits.inFlight} requests may wait for an answer at once`));
        }
        // One check for every event: nothing Postgres cannot store gets past here, whatever the field.
        const unstorable = findUnstorable(args[0]);
        if (unstorable !== undefined) return reply(failure('invalid_payload', `${unstorable || 'the payload'} ${UNSTORABLE_MESSAGE}`));
        const parsed = schema.safeParse(args[0]);
        if (!parsed.success) return reply(failure('invalid_payload', describeIssues(parsed.error)));
        state.inFlight += 1;
        try {
          reply({ ok: true, ...(await handler(parsed.data)) });
        } catch (error) {
          if (error instanceof SupportError) reply(failure(error.code, error.message, error.details));
          else if (isUnstorableTextError(error)) reply(failure('invalid_payload', `the payload ${UNSTORABLE_MESSAGE}`));
          else if (isDatabaseUnavailable(error)) {
            // Nothing was acknowledged: the client may send the same clientMessageId again.
            reply(failure('database_unavailable', 'the service is temporarily unavailable; try again shortly'));
          } else {
            logger.error({ err: error, event, sub }, 'support event failed');
            reply(failure('internal_error', 'something went wrong; try again'));
          }
        } finally {
          state.inFlight -= 1;
        }
      });
    },
    metadata() {
      const id = `ws-${randomUUID()}`;
      const userAgent = socket.handshake.headers['user-agent'];
      return {
        actor: String(sub),
        correlationId: id,
        causationId: id,
        requestId: id,
        ip: socket.handshake.address || null,
        userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
        at: deps.now().toISOString(),
      };
    },
  };
}
