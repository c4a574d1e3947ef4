/**
 * Guest lifecycle events: written to the outbox in the transaction of the change they describe,
 * delivered after the commit by the worker, to webhooks (signed as Standard Webhooks specifies)
 * and to the app's `onEvent`.
 */
export { buildEvent, newEventId } from './event.js';
export { isInternalAddress } from './network.js';
export { signDelivery } from './signature.js';
export * from './types.js';
