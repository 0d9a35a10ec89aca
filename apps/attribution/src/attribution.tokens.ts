/** Injection tokens of the attribution service. */
export const ATTRIBUTION_CONFIG = Symbol('ATTRIBUTION_CONFIG');
export const TRACKING_CLIENT = Symbol('TRACKING_CLIENT');
