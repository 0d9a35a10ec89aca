/**
 * Every event that crosses a service boundary: a protobuf message from proto/trackly/<service>/v1/*_events.proto,
 * published on the subject that is its full protobuf name, into the stream of the package that owns it.
 */
import * as attribution from '@trackly/contracts/attribution/v1/attribution_events';
import * as ingest from '@trackly/contracts/ingest/v1/ingest_events';
import * as tracking from '@trackly/contracts/tracking/v1/tracking_events';

export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export interface StreamSpec {
  /** Stream name without environment prefix, e.g. TRACKLY_TRACKING_V1. */
  readonly name: string;
  /** Subject filter without prefix, e.g. trackly.tracking.v1.> */
  readonly subjects: string;
}

export interface EventType<T> {
  /** Full protobuf name, which is also the NATS subject, e.g. trackly.tracking.v1.ClickRecorded. */
  readonly subject: string;
  readonly stream: StreamSpec;
  readonly codec: Codec<T>;
}

function streamOf(pkg: string): StreamSpec {
  return { name: pkg.toUpperCase().replace(/\./g, '_'), subjects: `${pkg}.>` };
}

function event<T>(pkg: string, name: string, codec: Codec<T>): EventType<T> {
  return { subject: `${pkg}.${name}`, stream: streamOf(pkg), codec };
}

export const Streams = {
  tracking: streamOf(tracking.protobufPackage),
  ingest: streamOf(ingest.protobufPackage),
  attribution: streamOf(attribution.protobufPackage),
} as const;

export const Events = {
  OfferUpserted: event(tracking.protobufPackage, 'OfferUpserted', tracking.OfferUpserted),
  CreativeUpserted: event(tracking.protobufPackage, 'CreativeUpserted', tracking.CreativeUpserted),
  CampaignUpserted: event(tracking.protobufPackage, 'CampaignUpserted', tracking.CampaignUpserted),
  MessageSent: event(tracking.protobufPackage, 'MessageSent', tracking.MessageSent),
  ClickRecorded: event(tracking.protobufPackage, 'ClickRecorded', tracking.ClickRecorded),
  ConversionReceived: event(ingest.protobufPackage, 'ConversionReceived', ingest.ConversionReceived),
  ConversionAdjusted: event(ingest.protobufPackage, 'ConversionAdjusted', ingest.ConversionAdjusted),
  ConversionAttributed: event(attribution.protobufPackage, 'ConversionAttributed', attribution.ConversionAttributed),
  ConversionUnattributed: event(attribution.protobufPackage, 'ConversionUnattributed', attribution.ConversionUnattributed),
  AttributionCorrected: event(attribution.protobufPackage, 'AttributionCorrected', attribution.AttributionCorrected),
} as const;

/** Dead letters of every consumer land here, with the reason in a header. */
export const DeadLetterStream: StreamSpec = { name: 'TRACKLY_DEADLETTER', subjects: 'trackly.deadletter.>' };
