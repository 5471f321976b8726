import type { Express } from 'express';

interface Layer {
  readonly rawPath?: unknown;
  readonly route?: { readonly path: unknown; readonly stack?: readonly Layer[] };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

const pathOf = (raw: unknown): string => (typeof raw === 'string' ? (raw === '/' ? '' : raw) : '(pattern)');

/**
 * Every express Route of the app → its full path pattern (`/manage/v1/clients/:clientId`), read
 * once from the router stacks after the routes are mounted. The request histogram labels by it:
 * a raw path would be a new series per client id.
 */
export function routePatterns(app: Express): WeakMap<object, string> {
  const patterns = new WeakMap<object, string>();
  const walk = (stack: readonly Layer[] | undefined, prefix: string) => {
    for (const layer of stack ?? []) {
      if (layer.route) patterns.set(layer.route, prefix + pathOf(layer.route.path) || '/');
      else if (layer.handle?.stack) walk(layer.handle.stack, prefix + pathOf(layer.rawPath));
    }
  };
  walk((app as unknown as { router?: { stack?: Layer[] } }).router?.stack, '');
  return patterns;
}
