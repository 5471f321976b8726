import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));

/** The template engine of every page: Eta, escaping every `<%= %>` by default; `<%~ %>` is for markup the layer built. */
export const engine = new Eta({ views: VIEWS, cache: true, autoEscape: true, autoTrim: [false, 'nl'] });

/** The engine's own escaping, for the few places the layer builds markup in code (a bold value inside a message). */
export const escapeText = (value: unknown): string => engine.config.escapeFunction(value);
