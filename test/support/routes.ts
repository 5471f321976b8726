import { accessOf, type Access } from '../../src/accounts/guard.ts';

export interface MountedRoute {
  /** `GET /clients/:clientId`, relative to the mount point */
  readonly key: string;
  /** the guard's access requirement; undefined when the route has no guard */
  readonly access: Access | undefined;
  /** how many guards the route runs (exactly one is right) */
  readonly guards: number;
}

interface Layer {
  readonly handle: { readonly stack?: Layer[] } & ((...args: unknown[]) => unknown);
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean>; readonly stack: Layer[] };
  match(path: string): boolean;
}

/**
 * Every route the app serves under `mount` (e.g. `/manage/v1`), read from express's router
 * stack: the mounted router, and the routers mounted inside it at its root.
 */
export function mountedRoutes(app: unknown, mount: string): MountedRoute[] {
  const mounted = (app as { router: { stack: Layer[] } }).router.stack.filter((layer) => Array.isArray(layer.handle.stack) && layer.match(`${mount}/x`) && !layer.match('/x'));
  if (mounted.length === 0) throw new Error(`no router is mounted at ${mount}`);
  const routes: MountedRoute[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const accesses = layer.route.stack.map((l) => accessOf(l.handle)).filter((a) => a !== undefined);
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
          routes.push({ key: `${method.toUpperCase()} ${layer.route.path}`, access: accesses[0], guards: accesses.length });
        }
      } else if (Array.isArray(layer.handle.stack)) {
        walk(layer.handle.stack);
      }
    }
  };
  for (const layer of mounted) walk(layer.handle.stack!);
  return routes;
}
