import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, Clock, DomainError, InvalidArgumentError } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { OutboxRelay } from '@trackly/messaging';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionDraft, FieldProblems, partnerIdProblem, RawParams } from '../domain/conversion.rules';
import { bodyKind, mergeParams, parseJsonParams, parseUrlEncoded } from '../domain/postback-params';
import { parsePostback } from '../domain/postback.parser';
import { ConversionsService } from '../conversions/conversions.service';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG, INGEST_LOGGER } from '../ingest.tokens';
import { PostbackArchive } from './postback-archive.service';

/** A partner HTTP request as the edge received it. */
export interface IncomingPostback {
  partnerId: string;
  sourceIp: string;
  method: string;
  path: string;
  /** Raw query string without "?". */
  query: string;
  contentType: string | null;
  /** The body bytes, when there was a body and it was read. */
  body: Buffer | null;
  /** Why the body could not be read (status as the body reader reported it: 413 too large, 415, 400). */
  bodyError: { status: number; message: string } | null;
}

export type PostbackReply =
  | { kind: 'stored' | 'duplicate'; conversion: Conversion }
  | { kind: 'too_large' | 'unsupported_media_type'; message: string };

type Interpreted = { draft: ConversionDraft } | { reject: 'too_large' | 'unsupported_media_type'; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A postback's life: archived raw first; then read, checked and stored (or refused with every field problem); the
 * archive row then says what happened. Only a failure to store gives an error the partner should retry.
 */
@Injectable()
export class PostbacksService {
  constructor(
    private readonly ds: DataSource,
    private readonly archive: PostbackArchive,
    private readonly conversions: ConversionsService,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(INGEST_LOGGER) private readonly logger: Logger,
  ) {}

  async receive(req: IncomingPostback): Promise<PostbackReply> {
    const receivedAt = this.clock.now();
    const archiveId = await this.archive.record({
      receivedAt,
      partnerId: req.partnerId,
      sourceIp: req.sourceIp,
      method: req.method,
      path: req.path,
      query: req.query,
      contentType: req.contentType,
      body: req.body ? req.body.toString('utf8') : null,
    });

    let interpreted: Interpreted;
    try {
      interpreted = this.interpret(req, receivedAt);
    } catch (e) {
      if (e instanceof DomainError) await this.archive.finish(archiveId, { outcome: 'invalid', reason: e.message });
      else await this.markError(archiveId, e);
      throw e;
    }
    if ('reject' in interpreted) {
      await this.archive.finish(archiveId, { outcome: 'invalid', reason: interpreted.message });
      return { kind: interpreted.reject, message: interpreted.message };
    }

    try {
      const result = await this.ds.transaction(async (m) => {
        const stored = await this.conversions.storeIn(m, interpreted.draft, receivedAt);
        await this.archive.finish(
          archiveId,
          stored.duplicate
            ? { outcome: 'duplicate', reason: 'conversion_id already stored for this partner', conversionRef: stored.conversion.id }
            : { outcome: 'stored', conversionRef: stored.conversion.id },
          m,
        );
        return stored;
      });
      this.relay.kick();
      return { kind: result.duplicate ? 'duplicate' : 'stored', conversion: result.conversion };
    } catch (e) {
      await this.markError(archiveId, e);
      throw e;
    }
  }

  /** Reads the parameters (query, then body over it) and applies the generic postback rules. */
  private interpret(req: IncomingPostback, receivedAt: Date): Interpreted {
    if (req.bodyError) {
      if (req.bodyError.status === 413) {
        return { reject: 'too_large', message: `request body exceeds ${this.config.INGEST_MAX_BODY_BYTES} bytes` };
      }
      if (req.bodyError.status === 415) return { reject: 'unsupported_media_type', message: req.bodyError.message };
      throw new InvalidArgumentError('body', `could not be read (${req.bodyError.message})`);
    }
    const fields: FieldProblems = {};
    const partner = partnerIdProblem(req.partnerId);
    if (partner) fields.partner_id = partner;

    let body: RawParams = {};
    if (req.body && req.body.length > 0) {
      const kind = bodyKind(req.contentType ?? undefined);
      if ('unsupported' in kind) return { reject: 'unsupported_media_type', message: kind.unsupported };
      let text: string;
      try {
        text = utf8.decode(req.body);
      } catch {
        throw InvalidArgumentError.of({ ...fields, body: 'must be UTF-8 text' });
      }
      if (kind.kind === 'form') body = parseUrlEncoded(text);
      else {
        const json = parseJsonParams(text);
        if (!json.ok) throw InvalidArgumentError.of({ ...fields, ...json.fields });
        body = json.value;
      }
    }

    const parsed = parsePostback(mergeParams(parseUrlEncoded(req.query), body), {
      receivedAt,
      defaultCurrency: this.config.INGEST_DEFAULT_CURRENCY,
    });
    if (!parsed.ok) Object.assign(fields, parsed.fields);
    if (Object.keys(fields).length || !parsed.ok) throw InvalidArgumentError.of(fields);
    return { draft: { partnerId: req.partnerId, ...parsed.value } };
  }

  private async markError(archiveId: string, e: unknown): Promise<void> {
    const reason = e instanceof Error ? e.message : String(e);
    await this.archive.finish(archiveId, { outcome: 'error', reason }).catch((err: Error) => {
      this.logger.error({ err: err.message, archiveId }, 'could not record the outcome of a failed postback');
    });
  }
}
