import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { Partner, PartnerCounters, PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import type { UpsertPartnerRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { RequireScope } from '../auth/api-key.guard';
import { ConversionsService } from '../conversions/conversions.service';
import { BodyReader } from '../domain/body';
import { apiJson } from '../domain/money-json';
import { createOnly, found } from '../downstream/create-only';
import type { IngestClient } from '../downstream/downstream.providers';
import { INGEST_CLIENT } from '../gateway.tokens';

const KINDS: Record<string, PartnerKind> = {
  tune: PartnerKind.PARTNER_KIND_TUNE,
  everflow: PartnerKind.PARTNER_KIND_EVERFLOW,
  generic: PartnerKind.PARTNER_KIND_GENERIC,
};
const PARTNER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SETTINGS = ['name', 'kind', 'click_id_param', 'default_currency', 'allowed_sources', 'time_zone'] as const;

/**
 * Partners: the list with what their postbacks became, registration, settings (allow-list), token rotation (the
 * token is in that one answer only), the postback URL to paste into the partner's platform, and test postbacks.
 */
@Controller('api/partners')
export class PartnersHttpController {
  constructor(
    @Inject(INGEST_CLIENT) private readonly ingest: IngestClient,
    private readonly conversions: ConversionsService,
  ) {}

  /** Every partner with its counters (requests received, stored, duplicates, refused by reason). Never a token. */
  @Get()
  @RequireScope('partners:read')
  @Header('Cache-Control', 'no-store')
  async list(@Query() query: Record<string, unknown>) {
    const { pageSize, pageToken } = readPage(query);
    const [{ partners, nextPageToken }, { partners: counters }] = await Promise.all([
      this.ingest.listPartners({ kind: PartnerKind.PARTNER_KIND_UNSPECIFIED, pageSize, pageToken }),
      this.ingest.getPartnerCounters({ partnerId: '', since: undefined }),
    ]);
    const byId = new Map(counters.map((c) => [c.partnerId, c]));
    return {
      partners: partners.map((p) => ({ ...(apiJson(Partner, p) as object), counters: countersJson(byId.get(p.partnerId), p.partnerId) })),
      next_page_token: nextPageToken ?? '',
    };
  }

  /** Registers a new partner (409 when the id is taken). The answer holds its token, shown this once, and its URL. */
  @Post()
  @RequireScope('partners:write')
  @Header('Cache-Control', 'no-store')
  async create(@Body() body: unknown) {
    const r = new BodyReader(body, ['partner_id', ...SETTINGS]);
    const partnerId = r.text('partner_id', { required: true, pattern: PARTNER_ID, problem: 'must be 1-64 letters, digits, "-" or "_"' });
    const settings = readSettings(r);
    r.done();
    const res = await createOnly(
      `partner "${partnerId}"`,
      () => this.exists(partnerId),
      () => this.ingest.upsertPartner({ partnerId, ...settings }),
      (r) => r.created && !!r.token,
      'registered',
    );
    const template = await this.ingest.getPostbackTemplate({ partnerId, token: res.token });
    return { partner: apiJson(Partner, res.partner!), token: res.token, template };
  }

  /** One partner: settings, counters and the postback URL (with a placeholder where the token goes). */
  @Get(':partnerId')
  @RequireScope('partners:read')
  @Header('Cache-Control', 'no-store')
  async get(@Param('partnerId') partnerId: string) {
    const [{ partner, lastPostbackAt, testConversions }, { partners: counters }, template] = await Promise.all([
      this.ingest.getPartner({ partnerId }),
      this.ingest.getPartnerCounters({ partnerId, since: undefined }),
      this.ingest.getPostbackTemplate({ partnerId, token: '' }),
    ]);
    if (!partner) throw new NotFoundError('partner', partnerId);
    return {
      partner: apiJson(Partner, partner),
      counters: countersJson(counters[0], partnerId),
      template,
      last_postback_at: lastPostbackAt?.toISOString() ?? null,
      test_conversions: testConversions ?? '0',
    };
  }

  /** Replaces a registered partner's settings (allow-list included); its token stays. */
  @Put(':partnerId')
  @RequireScope('partners:write')
  @Header('Cache-Control', 'no-store')
  async update(@Param('partnerId') partnerId: string, @Body() body: unknown) {
    const r = new BodyReader(body, SETTINGS);
    const settings = readSettings(r);
    r.done();
    if (!(await this.exists(partnerId))) throw new NotFoundError('partner', partnerId);
    const res = await this.ingest.upsertPartner({ partnerId, ...settings });
    return { partner: apiJson(Partner, res.partner!) };
  }

  /** A new token (the old one stops working at once), shown in this answer only, with the URL that carries it. */
  @Post(':partnerId/rotate-token')
  @HttpCode(200)
  @RequireScope('partners:write')
  @Header('Cache-Control', 'no-store')
  async rotate(@Param('partnerId') partnerId: string) {
    const res = await this.ingest.rotatePartnerToken({ partnerId });
    const template = await this.ingest.getPostbackTemplate({ partnerId, token: res.token });
    return { partner: apiJson(Partner, res.partner!), token: res.token, template };
  }

  /**
   * Fires a test postback for the partner through ingest's edge and shows the edge's answer, the stored conversion
   * and its attribution. Needs partners:test, not the partner's token: ingest sends it as the partner would.
   */
  @Post(':partnerId/test-postback')
  @HttpCode(200)
  @RequireScope('partners:test')
  @Header('Cache-Control', 'no-store')
  testPostback(@Param('partnerId') partnerId: string, @Body() body: unknown) {
    return this.conversions.testPostback(partnerId, body);
  }

  private exists(partnerId: string): Promise<boolean> {
    return found(this.ingest.getPartner({ partnerId }), (r) => !!r.partner);
  }
}

function readSettings(r: BodyReader): Omit<UpsertPartnerRequest, 'partnerId'> {
  const kindText = r.text('kind', { required: true }).toLowerCase();
  if (kindText && !Object.hasOwn(KINDS, kindText)) r.errors.kind = `must be one of ${Object.keys(KINDS).join(', ')}`;
  return {
    name: r.text('name', { max: 200 }),
    kind: KINDS[kindText] ?? PartnerKind.PARTNER_KIND_UNSPECIFIED,
    clickIdParam: r.text('click_id_param', { max: 64, pattern: /^[A-Za-z0-9_.-]+$/, problem: 'must be a parameter name (letters, digits, "_", "-", ".")' }),
    defaultCurrency: r.text('default_currency', { pattern: /^[A-Z]{3}$/, problem: 'must be a 3-letter ISO 4217 code in upper case' }),
    allowedSources: r.strings('allowed_sources', { max: 100, itemMax: 64 }),
    // Checked against the IANA database by ingest (400 naming time_zone).
    timeZone: r.text('time_zone', { max: 64 }),
  };
}

function countersJson(c: PartnerCounters | undefined, partnerId: string) {
  return PartnerCounters.toJSON(c ?? PartnerCounters.fromPartial({ partnerId }));
}

/** ?page_size (1..500, default 100) and ?page_token (from next_page_token); ingest checks the token. */
function readPage(query: Record<string, unknown>): { pageSize: number | undefined; pageToken: string | undefined } {
  const unknown = Object.keys(query).filter((k) => k !== 'page_size' && k !== 'page_token');
  if (unknown.length) throw new InvalidArgumentError(unknown[0], 'is not a parameter of this route (page_size, page_token)');
  const size = query.page_size;
  const token = query.page_token;
  if (size !== undefined && (typeof size !== 'string' || !/^\d{1,3}$/.test(size) || Number(size) < 1 || Number(size) > 500)) {
    throw new InvalidArgumentError('page_size', 'must be an integer 1..500');
  }
  if (token !== undefined && (typeof token !== 'string' || token.length > 512)) throw new InvalidArgumentError('page_token', 'must be one token from next_page_token');
  return { pageSize: size === undefined ? undefined : Number(size), pageToken: token === undefined || token === '' ? undefined : (token as string) };
}
