import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertId, InvalidArgumentError } from '@trackly/kernel';
import type {
  GetContactJourneyResponse,
  GetMessageReportResponse,
  GetPerformanceReportResponse,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { buildContactJourney } from '../domain/contact-journey';
import type { ClickFact, CreditedConversionFact, CreditStatus, MessageFact, NameKind } from '../domain/facts';
import { buildMessageReport } from '../domain/message-report';
import { ActivityAggregate, buildPerformanceReport, RevenueAggregate } from '../domain/performance';
import { Dimension, PerformanceQuery, PerformanceQueryInput, validatePerformanceQuery } from '../domain/report-query';

// Fixed SQL per dimension, chosen by the validated enum: nothing from the request is spliced into SQL.
const KEY_SQL: Record<Dimension, string> = {
  creative: 'creative_id',
  offer: 'offer_id',
  campaign: 'campaign_id',
  date: `to_char(bucket AT TIME ZONE $3::text, 'YYYY-MM-DD')`,
};

// Local midnights of the first and the day after the last day, as instants: Postgres applies the zone's rules
// (DST included) for those dates. Buckets are 15-minute aligned, as every zone's midnight is.
const IN_RANGE = `bucket >= ($1::date::timestamp AT TIME ZONE $3::text) AND bucket < (($2::date + 1)::timestamp AT TIME ZONE $3::text)`;

const NAME_KIND: Partial<Record<Dimension, NameKind>> = { creative: 'creative', offer: 'offer', campaign: 'campaign' };

interface MessageRow {
  message_id: string;
  contact_id: string;
  phone_masked: string;
  campaign_id: string;
  creative_id: string;
  offer_id: string;
  sent_at: Date;
}

interface ClickRow {
  click_id: string;
  message_id: string;
  contact_id: string;
  offer_id: string;
  campaign_id: string;
  creative_id: string;
  clicked_at: Date;
  first_click_on_message: boolean;
}

interface ConversionRow {
  partner_id: string;
  conversion_id: string;
  message_id: string;
  click_id: string;
  contact_id: string;
  offer_id: string;
  campaign_id: string;
  creative_id: string;
  payout_micros: string;
  currency: string;
  status: CreditStatus;
  occurred_at: Date;
  type: string;
}

const CONVERSION_COLUMNS = `partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id,
  payout_micros::text AS payout_micros, currency, status, occurred_at, type`;

/** Answers the reports from the read models only. */
@Injectable()
export class ReportsService {
  constructor(private readonly ds: DataSource) {}

  async performance(input: PerformanceQueryInput): Promise<GetPerformanceReportResponse> {
    const q = validatePerformanceQuery(input);
    const key = KEY_SQL[q.dimension];
    const params = [q.fromDate, q.toDate, q.timeZone];
    // One snapshot for both rollups, so a report never mixes two moments.
    const { activity, revenue } = await this.withZone(q, () =>
      this.ds.transaction('REPEATABLE READ', async (m) => {
        const activity: { key: string; sends: string; clicks: string; unique_clicks: string }[] = await m.query(
          `SELECT ${key} AS key, sum(sends)::text AS sends, sum(clicks)::text AS clicks, sum(unique_clicks)::text AS unique_clicks
           FROM "reporting".activity_rollup WHERE ${IN_RANGE} GROUP BY 1`,
          params,
        );
        const revenue: { key: string; currency: string; conversions: string; approved: string; pending: string }[] = await m.query(
          `SELECT ${key} AS key, currency, sum(conversions)::text AS conversions,
                  sum(approved_micros)::text AS approved, sum(pending_micros)::text AS pending
           FROM "reporting".revenue_rollup WHERE ${IN_RANGE} GROUP BY 1, 2`,
          params,
        );
        return { activity, revenue };
      }),
    );
    const activityAggregates: ActivityAggregate[] = activity.map((r) => ({
      key: r.key,
      sends: BigInt(r.sends),
      clicks: BigInt(r.clicks),
      uniqueClicks: BigInt(r.unique_clicks),
    }));
    const revenueAggregates: RevenueAggregate[] = revenue.map((r) => ({
      key: r.key,
      currency: r.currency,
      conversions: BigInt(r.conversions),
      approvedMicros: BigInt(r.approved),
      pendingMicros: BigInt(r.pending),
    }));
    const names = await this.names(NAME_KIND[q.dimension], [...new Set([...activity, ...revenue].map((r) => r.key))]);
    return buildPerformanceReport(activityAggregates, revenueAggregates, names, q.timeZone);
  }

  async message(messageId: string): Promise<GetMessageReportResponse> {
    assertId(messageId, 'message_id');
    const [messages, clicks, conversions] = await Promise.all([
      this.ds.query(
        `SELECT message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at
         FROM "reporting".messages WHERE message_id = $1`,
        [messageId],
      ) as Promise<MessageRow[]>,
      this.ds.query(`SELECT * FROM "reporting".clicks WHERE message_id = $1`, [messageId]) as Promise<ClickRow[]>,
      this.ds.query(`SELECT ${CONVERSION_COLUMNS} FROM "reporting".credited_conversions WHERE message_id = $1`, [messageId]) as Promise<
        ConversionRow[]
      >,
    ]);
    return buildMessageReport(messageId, messages.map(toMessageFact)[0], clicks.map(toClickFact), conversions.map(toConversionFact));
  }

  async contactJourney(contactId: string): Promise<GetContactJourneyResponse> {
    assertId(contactId, 'contact_id');
    const [messages, clicks, conversions] = await Promise.all([
      this.ds.query(
        `SELECT message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at
         FROM "reporting".messages WHERE contact_id = $1`,
        [contactId],
      ) as Promise<MessageRow[]>,
      this.ds.query(`SELECT * FROM "reporting".clicks WHERE contact_id = $1`, [contactId]) as Promise<ClickRow[]>,
      this.ds.query(`SELECT ${CONVERSION_COLUMNS} FROM "reporting".credited_conversions WHERE contact_id = $1`, [contactId]) as Promise<
        ConversionRow[]
      >,
    ]);
    return buildContactJourney(contactId, messages.map(toMessageFact), clicks.map(toClickFact), conversions.map(toConversionFact));
  }

  private async names(kind: NameKind | undefined, ids: string[]): Promise<Map<string, string>> {
    if (!kind || !ids.length) return new Map();
    const rows: { id: string; name: string }[] = await this.ds.query(
      `SELECT id, name FROM "reporting".names WHERE kind = $1 AND id = ANY($2::text[])`,
      [kind, ids],
    );
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  /** Intl and Postgres carry separate copies of the zone database: a name only Intl knows is still the caller's error. */
  private async withZone<T>(q: PerformanceQuery, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code === '22023' && /time zone/i.test(err.message ?? '')) {
        throw new InvalidArgumentError('time_zone', `is not a time zone the database knows: "${q.timeZone}"`);
      }
      throw e;
    }
  }
}

function toMessageFact(r: MessageRow): MessageFact {
  return {
    messageId: r.message_id,
    contactId: r.contact_id,
    phoneMasked: r.phone_masked,
    campaignId: r.campaign_id,
    creativeId: r.creative_id,
    offerId: r.offer_id,
    sentAt: r.sent_at,
  };
}

function toClickFact(r: ClickRow): ClickFact {
  return {
    clickId: r.click_id,
    messageId: r.message_id,
    contactId: r.contact_id,
    offerId: r.offer_id,
    campaignId: r.campaign_id,
    creativeId: r.creative_id,
    clickedAt: r.clicked_at,
    firstClickOnMessage: r.first_click_on_message,
  };
}

function toConversionFact(r: ConversionRow): CreditedConversionFact {
  return {
    partnerId: r.partner_id,
    conversionId: r.conversion_id,
    messageId: r.message_id,
    clickId: r.click_id,
    contactId: r.contact_id,
    offerId: r.offer_id,
    campaignId: r.campaign_id,
    creativeId: r.creative_id,
    payout: { currency: r.currency, micros: BigInt(r.payout_micros) },
    status: r.status,
    occurredAt: r.occurred_at,
    type: r.type,
  };
}
