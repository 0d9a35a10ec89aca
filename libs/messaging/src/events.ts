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
  /** Subjects (or subject filters) without prefix, e.g. trackly.tracking.v1.MessageSent. */
  readonly subjects: readonly string[];
}

export interface EventType<T> {
  /** Full protobuf name, which is also the NATS subject, e.g. trackly.tracking.v1.ClickRecorded. */
  readonly subject: string;
  readonly stream: StreamSpec;
  /**
   * A stream that held this event before it moved to its own (ClickRecorded was on the tracking stream until
   * clicks got theirs): consumers of the old stream still apply what was stored there before the move.
   */
  readonly formerStream?: StreamSpec;
  readonly codec: Codec<T>;
}

function stream(name: string, subjects: string[]): StreamSpec {
  return { name, subjects };
}

function event<T>(pkg: string, name: string, codec: Codec<T>, s: StreamSpec, formerStream?: StreamSpec): EventType<T> {
  return { subject: `${pkg}.${name}`, stream: s, codec, formerStream };
}

const subjectsOf = (pkg: string, names: string[]) => names.map((n) => `${pkg}.${n}`);

/**
 * One stream per producing service, except clicks: a tap must never wait behind the MessageSent events of a blast
 * (hundreds of thousands in a minute) before attribution and reporting see it, so ClickRecorded has a stream, and
 * so durable consumers, of its own. Stream subjects are listed, not wildcards, because two streams may not overlap.
 */
export const Streams = {
  tracking: stream('TRACKLY_TRACKING_V1', subjectsOf(tracking.protobufPackage, ['OfferUpserted', 'CreativeUpserted', 'CampaignUpserted', 'MessageSent'])),
  trackingClicks: stream('TRACKLY_TRACKING_CLICKS_V1', subjectsOf(tracking.protobufPackage, ['ClickRecorded'])),
  ingest: stream('TRACKLY_INGEST_V1', [`${ingest.protobufPackage}.>`]),
  attribution: stream('TRACKLY_ATTRIBUTION_V1', [`${attribution.protobufPackage}.>`]),
} as const;

export const Events = {
  OfferUpserted: event(tracking.protobufPackage, 'OfferUpserted', tracking.OfferUpserted, Streams.tracking),
  CreativeUpserted: event(tracking.protobufPackage, 'CreativeUpserted', tracking.CreativeUpserted, Streams.tracking),
  CampaignUpserted: event(tracking.protobufPackage, 'CampaignUpserted', tracking.CampaignUpserted, Streams.tracking),
  MessageSent: event(tracking.protobufPackage, 'MessageSent', tracking.MessageSent, Streams.tracking),
  ClickRecorded: event(tracking.protobufPackage, 'ClickRecorded', tracking.ClickRecorded, Streams.trackingClicks, Streams.tracking),
  ConversionReceived: event(ingest.protobufPackage, 'ConversionReceived', ingest.ConversionReceived, Streams.ingest),
  ConversionAdjusted: event(ingest.protobufPackage, 'ConversionAdjusted', ingest.ConversionAdjusted, Streams.ingest),
  ConversionAttributed: event(attribution.protobufPackage, 'ConversionAttributed', attribution.ConversionAttributed, Streams.attribution),
  ConversionUnattributed: event(attribution.protobufPackage, 'ConversionUnattributed', attribution.ConversionUnattributed, Streams.attribution),
  AttributionCorrected: event(attribution.protobufPackage, 'AttributionCorrected', attribution.AttributionCorrected, Streams.attribution),
  PartnerUpserted: event(ingest.protobufPackage, 'PartnerUpserted', ingest.PartnerUpserted, Streams.ingest),
  PartnerTokenRotated: event(ingest.protobufPackage, 'PartnerTokenRotated', ingest.PartnerTokenRotated, Streams.ingest),
  PostbackRefused: event(ingest.protobufPackage, 'PostbackRefused', ingest.PostbackRefused, Streams.ingest),
  PostbacksReplayed: event(ingest.protobufPackage, 'PostbacksReplayed', ingest.PostbacksReplayed, Streams.ingest),
  ConversionsImported: event(ingest.protobufPackage, 'ConversionsImported', ingest.ConversionsImported, Streams.ingest),
} as const;

/** Dead letters of every consumer land here, with the reason in a header. */
export const DeadLetterStream: StreamSpec = { name: 'TRACKLY_DEADLETTER', subjects: ['trackly.deadletter.>'] };

/** Subject of the dead letters of one durable consumer. */
export function deadLetterSubject(durable: string): string {
  return `trackly.deadletter.${durable}`;
}
