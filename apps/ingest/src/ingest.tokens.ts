/** Injection tokens of the ingest service. */
export const INGEST_CONFIG = Symbol('INGEST_CONFIG');
export const INGEST_LOGGER = Symbol('INGEST_LOGGER');
