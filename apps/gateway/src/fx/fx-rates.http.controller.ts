import { Body, Controller, Get, Header, HttpCode, HttpException, Inject, Post, Put, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { formatMicros, InvalidArgumentError } from '@trackly/kernel';
import type { FxRate } from '@trackly/contracts/reporting/v1/reporting_service';
import { RequireScope } from '../auth/api-key.guard';
import { parseFxCsv, parseFxJson, ParsedRates, refused, rowErrors } from '../domain/fx-rates';
import { QueryValue, rejectUnknownParams } from '../domain/performance-query';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

/** A rates file is small (a year of 30 currencies is ~11,000 lines, ~300 KB). */
const MAX_CSV_BYTES = 1024 * 1024;
const LIST_PARAMS = ['quote', 'currency', 'from', 'to'] as const;

const wire = (r: FxRate) => ({ day: r.day, currency: r.currency, quote: r.quote, rate: formatMicros(BigInt(r.rateMicros)), rateMicros: r.rateMicros });

/**
 * Dated FX rates for the reporting currency (stored by reporting): loaded by operators as JSON or CSV, all rows or
 * none; read by anyone who reads reports.
 */
@Controller('api/fx-rates')
export class FxRatesHttpController {
  constructor(@Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient) {}

  @Put()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @RequireScope('operations:write')
  async put(@Body() body: unknown) {
    return this.store(parseFxJson(body));
  }

  @Post('csv')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @RequireScope('operations:write')
  async csv(@Req() req: Request) {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!['text/csv', 'text/plain', 'application/octet-stream'].includes(type)) {
      throw new HttpException({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the CSV file as the body with Content-Type: text/csv' }, 415);
    }
    return this.store(parseFxCsv(await readText(req)));
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  @RequireScope('reports:read')
  async list(@Query() query: Record<string, QueryValue>) {
    rejectUnknownParams(query, LIST_PARAMS);
    const fields: Record<string, string> = {};
    const one = (name: (typeof LIST_PARAMS)[number]) => {
      const v = query[name];
      if (v !== undefined && typeof v !== 'string') fields[name] = 'must be given once';
      return typeof v === 'string' ? v.trim() : '';
    };
    const [quote, currency, fromDate, toDate] = [one('quote').toUpperCase(), one('currency').toUpperCase(), one('from'), one('to')];
    if (Object.keys(fields).length) throw InvalidArgumentError.of(fields);
    const r = await this.reporting.listFxRates({ quote, currency, fromDate, toDate });
    return { rates: r.rates.map(wire) };
  }

  private async store(parsed: ParsedRates) {
    if (Object.keys(parsed.errors).length) throw refused(parsed.errors);
    const r = await this.reporting.upsertFxRates({ rates: parsed.rates });
    if (r.errors.length) throw refused(rowErrors(parsed.origins, r.errors));
    return { stored: r.stored };
  }
}

async function readText(req: Request): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  const tooLarge = () => new HttpException({ error: 'PAYLOAD_TOO_LARGE', message: `a rates file may be at most ${MAX_CSV_BYTES} bytes: split it` }, 413);
  if (declared > MAX_CSV_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CSV_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
