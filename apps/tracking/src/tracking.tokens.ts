/** Injection tokens of the tracking service. */
export const TRACKING_CONFIG = Symbol('TRACKING_CONFIG');
/** The service's pino logger (for providers that log outside a request). */
export const TRACKING_LOGGER = Symbol('TRACKING_LOGGER');
