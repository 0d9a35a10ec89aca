import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertId, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import type { CandidateClick, ExplainConversionResponse, ListAttributionsRequest, ListAttributionsResponse } from '@trackly/contracts/attribution/v1/attribution_service';
import { WindowSource } from '@trackly/contracts/attribution/v1/attribution_service';
import { UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { candidateNote, ClickFact, ConversionFacts, ConversionStatus, lookback } from '../domain/first-click.rules';
import { ProjectionsRepository } from '../projections/projections.repository';
import { parkedToAttribution, reasonToEnum, toAttribution } from './attribution.mappers';
import { DecisionEntity } from './decision.entity';
import { ParkedConversionEntity } from './parked.entity';

const MAX_PAGE = 500;
const DEFAULT_PAGE = 100;

/** The read side of decisions: the troubleshooting trace of one conversion, and paged lists. */
@Injectable()
export class ExplainService {
  constructor(
    private readonly ds: DataSource,
    private readonly projections: ProjectionsRepository,
  ) {}

  async explain(partnerId: string, conversionId: string): Promise<ExplainConversionResponse> {
    assertId(partnerId, 'partner_id');
    assertId(conversionId, 'conversion_id');
    const m = this.ds.manager;
    const d = await m.findOneBy(DecisionEntity, { partnerId, conversionId });
    if (!d) {
      const parked = await m.findOneBy(ParkedConversionEntity, { partnerId, conversionId });
      if (!parked) throw new NotFoundError('attribution for conversion', `${partnerId}/${conversionId}`);
      const attribution = parkedToAttribution(parked);
      return {
        attribution, matchedClick: undefined, candidateClicks: [], windowDays: 0, windowSource: WindowSource.WINDOW_SOURCE_UNSPECIFIED,
        windowFrom: undefined, windowTo: undefined, rule: 'PARKED', reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
        ruleVersion: attribution.ruleVersion, minConversionSeconds: undefined, viewThroughWindowDays: undefined, history: [attribution.explanation],
      };
    }
    const named = d.reportedClickId ? (await this.projections.findClicks(m, [d.reportedClickId])).get(d.reportedClickId) : undefined;
    const offerId = d.offerId ?? named?.offerId;
    const terms = offerId ? (await this.projections.offerTermsOf(m, [offerId])).get(offerId) : undefined;
    const contactId = d.contactId ?? named?.contactId;
    const clicks = contactId && offerId ? await this.projections.contactClicks(m, contactId, offerId, 100) : [];
    const facts: ConversionFacts = {
      partnerId, conversionId, reportedClickId: d.reportedClickId, messageId: d.conversionMessageId, occurredAt: d.occurredAt,
      status: d.status as ConversionStatus, payout: { currency: d.currency, micros: d.payoutMicros },
    };
    const credited = d.creditedClickId ?? '';
    const candidate = (c: ClickFact): CandidateClick => {
      const { inWindow, note } = candidateNote(c, facts, d.windowDays, credited);
      return { clickId: c.clickId, messageId: c.messageId, clickedAt: c.clickedAt, clickClass: c.clickClass, inWindow, credited: c.clickId === credited, note };
    };
    // Decisions made before window sources were recorded: the offer's setting tells.
    const source = d.windowSource ?? (terms?.clickWindowDays != null ? 'OFFER' : named ? 'DEFAULT' : null);
    const windowed = source !== null && d.windowDays > 0;
    const span = windowed ? lookback(d.occurredAt, d.windowDays) : undefined;
    const corrections: { explanation: string; created_at: Date; cause: string }[] = await m.query(
      `SELECT explanation, created_at, cause FROM "attribution".corrections WHERE partner_id = $1 AND conversion_id = $2 ORDER BY seq`,
      [partnerId, conversionId],
    );
    return {
      attribution: toAttribution(d),
      matchedClick: named ? candidate(named) : undefined,
      candidateClicks: clicks.map(candidate),
      windowDays: d.windowDays,
      windowSource: source === 'OFFER' ? WindowSource.WINDOW_SOURCE_OFFER : source === 'DEFAULT' ? WindowSource.WINDOW_SOURCE_DEFAULT : WindowSource.WINDOW_SOURCE_UNSPECIFIED,
      windowFrom: span?.from,
      windowTo: span?.to,
      rule: d.rule ?? (d.outcome === 'ATTRIBUTED' ? 'FIRST_CLICK' : (d.reason ?? '')),
      reason: reasonToEnum(d.reason),
      ruleVersion: d.ruleVersion,
      minConversionSeconds: terms?.minConversionSeconds ?? undefined,
      viewThroughWindowDays: terms?.viewThroughWindowDays ?? undefined,
      history: [
        `${d.decidedAt.toISOString()} decided by rule ${d.rule ?? '?'} (${d.ruleVersion})`,
        ...corrections.map((c) => `${c.created_at.toISOString()} ${c.cause}: ${c.explanation}`),
      ],
    };
  }

  async list(req: ListAttributionsRequest): Promise<ListAttributionsResponse> {
    const size = req.pageSize || DEFAULT_PAGE;
    if (size > MAX_PAGE) throw new InvalidArgumentError('page_size', `must be at most ${MAX_PAGE}`);
    for (const [field, v] of [['message_id', req.messageId], ['offer_id', req.offerId], ['contact_id', req.contactId]] as const) {
      if (v) assertId(v, field);
    }
    const qb = this.ds.getRepository(DecisionEntity).createQueryBuilder('d');
    if (req.messageId) qb.andWhere('d.message_id = :messageId', { messageId: req.messageId });
    if (req.offerId) qb.andWhere('d.offer_id = :offerId', { offerId: req.offerId });
    if (req.contactId) qb.andWhere('d.contact_id = :contactId', { contactId: req.contactId });
    if (req.occurredFrom) qb.andWhere('d.occurred_at >= :from', { from: req.occurredFrom });
    if (req.occurredTo) qb.andWhere('d.occurred_at < :to', { to: req.occurredTo });
    if (req.pageToken) {
      const [at, p, c] = decodeToken(req.pageToken);
      qb.andWhere('(d.occurred_at, d.partner_id, d.conversion_id) < (:at, :p, :c)', { at: new Date(at), p, c });
    }
    const rows = await qb
      .orderBy('d.occurred_at', 'DESC')
      .addOrderBy('d.partner_id', 'DESC')
      .addOrderBy('d.conversion_id', 'DESC')
      .take(size + 1)
      .getMany();
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      attributions: page.map(toAttribution),
      nextPageToken: rows.length > size && last ? encodeToken([last.occurredAt.toISOString(), last.partnerId, last.conversionId]) : '',
    };
  }
}

function encodeToken(key: [string, string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string): [string, string, string] {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === 3 && key.every((k) => typeof k === 'string') && !Number.isNaN(Date.parse(key[0]))) return key as [string, string, string];
  } catch {
    /* reported below */
  }
  throw new InvalidArgumentError('page_token', 'is not a token this service issued');
}
