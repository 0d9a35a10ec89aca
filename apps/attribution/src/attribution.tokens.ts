/** Injection tokens of the attribution service. */
export const ATTRIBUTION_CONFIG = Symbol('ATTRIBUTION_CONFIG');
export const TRACKING_CLIENT = Symbol('TRACKING_CLIENT');
export const ATTRIBUTION_LOGGER = Symbol('ATTRIBUTION_LOGGER');
