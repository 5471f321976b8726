import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

/**
 * client_listings: the public directory, from ClientListingChanged. A client taken out keeps its
 * row (listed = false), so its `project_id` and first publication stay when it comes back.
 */
export const listingsProjection: Projection = {
  name: 'listings',
  project(event, changes) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId || event.type !== 'ClientListingChanged') return;
    const at = eventTime(event);
    const { listing } = event.data;
    if (listing === null) return changes.update('client_listings', { client_id: clientId }, { listed: false, updated_at: at });
    changes.upsert(
      'client_listings',
      {
        client_id: clientId,
        project_id: event.position.commit,
        listed: true,
        title: listing.title,
        description: listing.description,
        categories: listing.categories,
        image: listing.image,
        direct_redirect: listing.directRedirect,
        published_at: at,
        updated_at: at,
      },
      ['listed', 'title', 'description', 'categories', 'image', 'direct_redirect', 'updated_at'],
    );
  },
};
