/** Injection tokens of the delivery service. */
export const DELIVERY_CONFIG = Symbol('DELIVERY_CONFIG');
export const DELIVERY_LOGGER = Symbol('DELIVERY_LOGGER');
