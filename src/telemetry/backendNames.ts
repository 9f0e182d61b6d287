import type { BaseCacheBackend } from "../backends/base";

const names = new WeakMap<BaseCacheBackend, string>();

/** Records the name `configureCachePage` gave a backend (the label telemetry uses). */
export function nameBackend(backend: BaseCacheBackend, name: string): void {
  if (!names.has(backend)) names.set(backend, name);
}

/** The backend's configured name, else its class name: a bounded label, never a key. */
export function backendLabel(backend: BaseCacheBackend): string {
  return names.get(backend) ?? backend.constructor.name;
}
