// Detection of attacks in progress and the alerts it raises (audit event + signed webhooks).
export { createDetect, BRUTE_FORCE_DEFAULTS, type Alert, type AlertSeverity, type Detect, type DetectContext, type DetectDeps } from './detect.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, signAlertBody, verifyAlertSignature } from './signature.js';
export type { WebhookOptions, DeliveryFailure } from './webhooks.js';
export type { BurstRule } from './bursts.js';
