import type pg from 'pg';
import type { Namespace } from 'socket.io';
import { type PostgresAdapterOptions, createAdapter } from '@socket.io/postgres-adapter';
import { type BroadcastOptions, type ClusterMessage, MessageType } from 'socket.io-adapter';

/** What this module uses of the cluster adapter beyond its public type. */
interface ClusterInternals {
  broadcast(packet: unknown, opts: BroadcastOptions): Promise<void>;
  publish(message: { type: MessageType; data?: unknown }): void;
  doPublish(message: ClusterMessage): Promise<string>;
  doPublishResponse(requesterUid: string, response: unknown): Promise<void>;
  close(): void;
}

/**
 * @socket.io/postgres-adapter, changed in two ways:
 *
 * - A broadcast reaches this node's sockets at once, in the order the broadcasts were made.
 *   The cluster adapter delivers locally only after the NOTIFY for the other nodes has gone out
 *   through a pool — and a payload over 8,000 bytes takes an INSERT first — so a read mark sent
 *   after a long message could reach a socket before it, and every delivery waited for the
 *   database. (Other nodes still get each broadcast by NOTIFY; clients order messages by seq.)
 * - Once the adapter is closed nothing more is published: a presence count that finishes during
 *   shutdown would otherwise query the pool the gateway is ending.
 */
export function createSupportAdapter(pool: pg.Pool, options: PostgresAdapterOptions): ReturnType<typeof createAdapter> {
  const postgres = createAdapter(pool, options);
  // socket.io calls it with `new`: a function (not an arrow) whose returned object is the adapter
  return function supportAdapter(nsp: Namespace) {
    const adapter = postgres(nsp);
    const internals = adapter as unknown as ClusterInternals;
    const clusterBroadcast = internals.broadcast.bind(adapter);
    const doPublish = internals.doPublish.bind(adapter);
    const doPublishResponse = internals.doPublishResponse.bind(adapter);
    const close = internals.close.bind(adapter);
    let closed = false;

    internals.broadcast = async (packet, opts) => {
      if (!opts.flags?.local) {
        // serialised now, sent when the pool gets to it
        internals.publish({ type: MessageType.BROADCAST, data: { packet, opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags } } });
      }
      // `local`: the cluster adapter hands it to this node's sockets without awaiting anything
      await clusterBroadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
    };
    internals.doPublish = (message) => (closed ? Promise.resolve('') : doPublish(message));
    internals.doPublishResponse = (requesterUid, response) => (closed ? Promise.resolve() : doPublishResponse(requesterUid, response));
    internals.close = () => {
      close(); // publishes ADAPTER_CLOSE: the other nodes stop waiting for this one
      closed = true;
    };
    return adapter;
  };
}
