import { sql } from 'kysely';
import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/** client_listings: the public directory, from ClientListingChanged (idempotent for a replayed event). */
export const listingsProjection: Projection = {
  name: 'listings',
  project(event, db) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId || event.type !== 'ClientListingChanged') return [];
    const at = eventTime(event);
    const { listing } = event.data;
    if (listing === null) return [db.updateTable('client_listings').set({ listed: false, updated_at: at }).where('client_id', '=', clientId)];
    return [
      db
        .insertInto('client_listings')
        .values({
          client_id: clientId,
          project_id: event.position.commit.toString(),
          listed: true,
          title: listing.title,
          description: listing.description,
          categories: JSON.stringify(listing.categories),
          image: listing.image,
          direct_redirect: listing.directRedirect,
          published_at: at,
          updated_at: at,
        })
        .onConflict((oc) =>
          oc.column('client_id').doUpdateSet({
            // listed again after a pause: published now; a change while listed keeps the date
            published_at: sql`CASE WHEN client_listings.listed THEN client_listings.published_at ELSE excluded.published_at END`,
            listed: true,
            title: (eb) => eb.ref('excluded.title'),
            description: (eb) => eb.ref('excluded.description'),
            categories: (eb) => eb.ref('excluded.categories'),
            image: (eb) => eb.ref('excluded.image'),
            direct_redirect: (eb) => eb.ref('excluded.direct_redirect'),
            updated_at: (eb) => eb.ref('excluded.updated_at'),
          }),
        ),
    ];
  },
};
