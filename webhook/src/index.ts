// Public API of the webhook (package export "./webhook"): the flag parser the chart tests call,
// the app builder, the pure decision and patch functions, and the server entry point.
// Importing this module does not load @kubernetes/client-node.

export { buildApp, type AppConfig, type AppDeps, type KeyPair } from './app.js';
export {
  parseWebhookArgs,
  MUTATION_OPTIONS,
  SERVER_OPTIONS,
  type MutationConfig,
  type WebhookConfig,
  type TlsSource,
  type LogLevel,
} from './config.js';
export { decideAdmission, type Decision, type DecisionContext, type Outcome } from './admission/decide.js';
export { classifyLauncher, type LauncherVerdict } from './admission/launcher.js';
export { parseAdmissionReview, parsePod, type AdmissionRequest, type Pod } from './admission/review.js';
export { admissionReviewJson, toAdmissionReview, type AdmissionResponse, type AdmissionReviewResponse } from './admission/response.js';
export { createPlanner, type JsonPatchOp, type PlanPatch, type PlanResult } from './mutate/plan.js';
export { applyAddOps } from './mutate/apply.js';
export type { VolumeSettings } from './mutate/volumes.js';
export { offlineLookups, staticVmiSource, type KubeObject, type Lookups, type NadSource, type VmiSource } from './k8s/sources.js';
export { createMetrics, type WebhookMetrics } from './metrics.js';
export { runWebhook, type RunOptions } from './main.js';
export { WebhookError, isWebhookError, type WebhookErrorCode } from './errors.js';
