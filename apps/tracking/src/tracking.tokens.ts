/** Injection tokens of the tracking service. */
export const TRACKING_CONFIG = Symbol('TRACKING_CONFIG');
