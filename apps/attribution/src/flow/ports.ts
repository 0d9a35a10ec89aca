/**
 * What the load–decide–save flow needs from persistence and from tracking, as named ports: Postgres adapters in
 * production (`pg-*.ts`), in-memory fakes in the flow's unit spec. `Tx` is the caller's open transaction, opaque
 * to the flow; the tracking port is only ever called with no transaction open.
 */
import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import type { ClickFact, ConversionFacts, DecisionInput } from '../domain/first-click.rules';
import type { CapUsage } from '../domain/caps.rules';
import type { ConversionToDecide } from '../domain/conversion-input.rules';
import type { DecisionEntity } from '../decisions/decision.entity';
import type { ParkedConversionEntity } from '../decisions/parked.entity';

/** An open transaction (an EntityManager in the Postgres adapters). */
export type Tx = object;

export interface ConversionKey {
  partnerId: string;
  conversionId: string;
}

export const keyOf = (k: ConversionKey): string => `${k.partnerId}\u0000${k.conversionId}`;

/**
 * One conversion of a batch the facts reader loads for: its facts, its duplicate fingerprint, and the click id to
 * resolve from the projection (empty: none, e.g. an id tracking can never issue).
 */
export interface FactsRequest {
  key: ConversionKey;
  facts: ConversionFacts;
  fp: string | null;
  clickId: string;
}

/** A rule input as loaded: everything but the twin (the ledger's) and the cap usage (`capUsage`, for the decided). */
export type LoadedInput = Omit<DecisionInput, 'duplicateOf' | 'usage'>;

/** Everything a batch needs, loaded together. */
export interface BatchFacts {
  /**
   * Per request, in order: the rule input (named click from the projection, windowed clicks, offer terms and rules,
   * referenced send, windowed sends).
   */
  inputs: LoadedInput[];
  /** The credited holder of each of the batch's fingerprints, as stored. */
  holders: Map<string, string>;
  /** Keys (keyOf) of the requests that already have a stored decision. */
  decided: Set<string>;
}

/** Reads of attribution's projections (clicks, sends, offers) and of the stored decisions and credited fingerprints. */
export interface DecisionFactsReader {
  /** The projection's clicks with these ids. */
  findClicks(tx: Tx, clickIds: string[]): Promise<Map<string, ClickFact>>;
  /**
   * Every fact the batch needs, in one call: which conversions are decided already, the named clicks, sends, offer
   * terms and rules, windowed clicks and sends, credited twins.
   */
  load(tx: Tx, requests: FactsRequest[], defaultWindowDays: number): Promise<BatchFacts>;
  /**
   * What is credited (not over cap, not rejected or reversed, not a test) in every cap period of these inputs' rules,
   * leaving out the inputs' own conversions (the batch counts its own credits in memory). Only inputs with rules ask.
   */
  capUsage(tx: Tx, inputs: LoadedInput[]): Promise<CapUsage>;
}

/** Decisions and parked conversions. */
export interface DecisionStore {
  /** Stored decisions with these keys. */
  findDecisions(tx: Tx, keys: ConversionKey[]): Promise<Map<string, DecisionEntity>>;
  /**
   * Inserts the decisions (ON CONFLICT DO NOTHING on the key and on the credited-fingerprint index), publishes the
   * inserted ones' events through the outbox in the same transaction, and removes their parked rows. Returns the
   * keys actually inserted.
   */
  insertDecisions(tx: Tx, rows: DecisionEntity[]): Promise<Set<string>>;
  /**
   * Parks conversions (first parking's facts stand) and publishes ConversionParked for the newly parked ones;
   * returns the parked rows as stored.
   */
  park(tx: Tx, convs: ConversionToDecide[], parkedAt: Date, nextAttemptAt: Date, horizonAt: Date): Promise<ParkedConversionEntity[]>;
  /** Publishes ConversionSettled for parked conversions just decided (expired = settled UNKNOWN_CLICK_ID). */
  settled(tx: Tx, items: { attribution: Attribution; expired: boolean }[]): Promise<void>;
  /** Parked conversions naming these click ids, locked (the ClickRecorded path). */
  parkedForClicks(tx: Tx, clickIds: string[]): Promise<ParkedConversionEntity[]>;
  /** These parked conversions, locked, skipping rows another replica holds (the backoff timer). */
  lockParked(tx: Tx, keys: ConversionKey[]): Promise<ParkedConversionEntity[]>;
  /** Reschedules parked conversions not settled by this attempt. */
  reschedule(tx: Tx, items: { key: ConversionKey; nextAttemptAt: Date; error: string | null }[]): Promise<void>;
  /** Parked conversions due at `now` (key and click id), oldest due first; read outside any transaction. */
  dueParked(now: Date, limit: number): Promise<(ConversionKey & { clickId: string; horizonAt: Date })[]>;
}

/** A click as tracking has it (and the projection stores it). */
export type TrackedClick = ClickFact & { firstClickOnMessage: boolean };

/** Writes the projection's clicks learned from tracking. */
export interface ClickProjectionWriter {
  saveClicks(tx: Tx, clicks: TrackedClick[]): Promise<void>;
}

/** Tracking's GetClick: a click, undefined when tracking has none; throws when tracking cannot be reached. */
export interface TrackingClicks {
  getClick(clickId: string): Promise<TrackedClick | undefined>;
}

/** Runs a function in a new transaction. */
export interface UnitOfWork {
  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}
