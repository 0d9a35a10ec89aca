/** Injection tokens of the gateway. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const REPORTING_CLIENT = Symbol('REPORTING_CLIENT');
export const INGEST_CLIENT = Symbol('INGEST_CLIENT');
export const ATTRIBUTION_CLIENT = Symbol('ATTRIBUTION_CLIENT');
export const TRACKING_CLIENT = Symbol('TRACKING_CLIENT');
export const DELIVERY_CLIENT = Symbol('DELIVERY_CLIENT');
