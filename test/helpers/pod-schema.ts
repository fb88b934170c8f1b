// Validates a Pod against the Kubernetes OpenAPI schema (kubernetes-models, ajv), so a patched
// pod is known to be one the API server's schema accepts.
import { Pod } from 'kubernetes-models/v1/Pod';

/** Throws with ajv's message (e.g. `data/spec/volumes/0/emptyDir must be object`) when invalid. */
export function validatePod(object: unknown): void {
  // The constructor copies the fields; validate() checks them against the v1 Pod schema.
  new Pod(object as ConstructorParameters<typeof Pod>[0]).validate();
}
