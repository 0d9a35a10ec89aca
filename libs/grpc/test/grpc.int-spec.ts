import 'reflect-metadata';
import * as path from 'node:path';
import { Controller, Module } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import pino from 'pino';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { createGrpcClient, createHealth, GrpcCallError, PromiseClient, serviceNameOf } from '@trackly/grpc';
import { RunningService, startServiceApp } from '@trackly/app-shell';
import { freePort } from '@trackly/testing';
import {
  AttributeConversionRequest,
  AttributeConversionResponse,
  AttributionServiceController,
  AttributionServiceControllerMethods,
  AttributionServiceService,
  ExplainConversionRequest,
  ExplainConversionResponse,
  GetAttributionRequest,
  GetAttributionResponse,
  ListAttributionsRequest,
  ListAttributionsResponse,
  ReattributeRequest,
  ReattributeResponse,
} from '@trackly/contracts/attribution/v1/attribution_service';
import { AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';

const SERVICE = serviceNameOf(AttributionServiceService);
/** Slow calls that have reached the fake's handler (a spec waits on this before shutting down under them). */
let slowCallsEntered = 0;
const DECIDED_AT = new Date('2026-11-02T10:00:00.123Z');

// Unref'd: a handler left sleeping by a cancelled call must not keep Jest's worker alive.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * A stand-in attribution service: it echoes the request into the decision (so both directions of the wire mapping
 * are checked) and, by partner id, fails the ways a real handler can.
 */
@Controller()
@AttributionServiceControllerMethods()
class FakeAttributionController implements AttributionServiceController {
  async attributeConversion(req: AttributeConversionRequest): Promise<AttributeConversionResponse> {
    switch (req.partnerId) {
      case 'not-found':
        throw new NotFoundError('conversion', req.conversionId);
      case 'invalid':
        throw new InvalidArgumentError('payout.amount_micros', 'must not be negative');
      case 'precondition':
        throw new FailedPreconditionError('conversion is being decided');
      case 'boom':
        throw new Error('connection to the decision store lost');
      case 'rpc':
        throw new RpcException({ code: grpc.status.RESOURCE_EXHAUSTED, message: 'slow down' });
      case 'slow':
        slowCallsEntered++;
        await sleep(Number(req.conversionRef));
        break;
    }
    return {
      alreadyDecided: false,
      attribution: {
        partnerId: req.partnerId,
        conversionId: req.conversionId,
        conversionRef: req.conversionRef,
        ruleVersion: 'first-click/1',
        test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
        outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
        reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
        type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
        reportedClickId: req.clickId,
        creditedClickId: req.clickId,
        messageId: 'msg-1',
        contactId: 'contact-1',
        offerId: 'summer',
        campaignId: 'camp-1',
        creativeId: 'cr-1',
        payout: req.payout,
        status: req.status,
        occurredAt: req.occurredAt,
        creditedClickedAt: undefined,
        windowDays: 0,
        decidedAt: DECIDED_AT,
        explanation: '',
      },
    };
  }

  getAttribution(req: GetAttributionRequest): GetAttributionResponse {
    if (req.conversionId === 'missing') throw new NotFoundError('attribution', req.conversionId);
    return { attribution: undefined };
  }

  // Not exercised here; present because the controller contract requires them.
  explainConversion(req: ExplainConversionRequest): ExplainConversionResponse {
    throw new NotFoundError('attribution', req.conversionId);
  }

  listAttributions(_req: ListAttributionsRequest): ListAttributionsResponse {
    return { attributions: [], nextPageToken: '' };
  }

  reattribute(_req: ReattributeRequest): ReattributeResponse {
    throw new FailedPreconditionError('not supported by this stand-in');
  }

  setOfferRules(): never {
    throw new FailedPreconditionError('not supported by this stand-in');
  }

  getOfferRules(): never {
    throw new FailedPreconditionError('not supported by this stand-in');
  }
}

@Module({ controllers: [FakeAttributionController] })
class FakeAttributionModule {}

type Client = PromiseClient<typeof AttributionServiceService>;

/** Captures the service's log lines, so the test can see what was (and was not) logged as unexpected. */
function capturingLogger() {
  const lines: { level: number; msg: string; err?: { message?: string } }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function startFake(
  drainTimeoutMs?: number,
): Promise<{ app: RunningService; address: string; lines: ReturnType<typeof capturingLogger>['lines'] }> {
  const { logger, lines } = capturingLogger();
  const port = await freePort();
  const services = { [SERVICE]: AttributionServiceService };
  const app = await startServiceApp(FakeAttributionModule, {
    logger,
    grpc: { url: `127.0.0.1:${port}`, services, health: createHealth(Object.keys(services)) },
    drainTimeoutMs,
  });
  return { app, address: `127.0.0.1:${port}`, lines };
}

function healthClient(address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const Ctor = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  return new Ctor(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
}

function check(client: ReturnType<typeof healthClient>, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.check({ service }, { deadline: Date.now() + 2000 }, (err: grpc.ServiceError | null, res?: { status: string }) =>
      err ? reject(err) : resolve(res!.status),
    );
  });
}

async function callError(p: Promise<unknown>): Promise<GrpcCallError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof GrpcCallError)) throw new Error(`expected a GrpcCallError, got ${String(e)}`);
  return e;
}

function request(partnerId: string, extra: Partial<AttributeConversionRequest> = {}): AttributeConversionRequest {
  return {
    partnerId,
    conversionId: 'conv-1',
    conversionRef: '',
    messageId: '',
    clickId: 'click-1',
    payout: undefined,
    status: ConversionStatus.CONVERSION_STATUS_UNSPECIFIED,
    occurredAt: undefined,
    ...extra,
  };
}

describe('gRPC platform: startServiceApp + grpcServerOptions + createGrpcClient (real grpc-js over TCP)', () => {
  let running: Awaited<ReturnType<typeof startFake>>;
  let client: Client;

  beforeAll(async () => {
    running = await startFake();
    client = createGrpcClient(AttributionServiceService, running.address);
  });

  afterAll(async () => {
    client?.close();
    await running?.app.close();
  });

  it('round-trips int64 strings, Dates, enums, unset messages and zero values', async () => {
    const occurredAt = new Date('2026-11-01T23:59:59.987Z');
    const { attribution, alreadyDecided } = await client.attributeConversion(
      request('partner-a', {
        conversionRef: 'ref-1',
        payout: { currencyCode: 'USD', amountMicros: '9223372036854775807' },
        status: ConversionStatus.CONVERSION_STATUS_PENDING,
        occurredAt,
      }),
    );
    expect(alreadyDecided).toBe(false);
    expect(attribution).toEqual({
      partnerId: 'partner-a',
      conversionId: 'conv-1',
      conversionRef: 'ref-1',
      ruleVersion: 'first-click/1',
      test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
      reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
      type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
      reportedClickId: 'click-1',
      creditedClickId: 'click-1',
      messageId: 'msg-1',
      contactId: 'contact-1',
      offerId: 'summer',
      campaignId: 'camp-1',
      creativeId: 'cr-1',
      payout: { currencyCode: 'USD', amountMicros: '9223372036854775807' },
      status: ConversionStatus.CONVERSION_STATUS_PENDING,
      occurredAt,
      creditedClickedAt: undefined,
      windowDays: 0,
      decidedAt: DECIDED_AT,
      explanation: '',
    });
    expect(attribution!.occurredAt).toBeInstanceOf(Date);

    // Negative int64 and unset request fields survive too.
    const negative = await client.attributeConversion(request('partner-b', { payout: { currencyCode: 'EUR', amountMicros: '-1500000' } }));
    expect(negative.attribution!.payout).toEqual({ currencyCode: 'EUR', amountMicros: '-1500000' });
    expect(negative.attribution!.occurredAt).toBeUndefined();
    expect(negative.attribution!.status).toBe(ConversionStatus.CONVERSION_STATUS_UNSPECIFIED);

    // An empty response message arrives with its unset field undefined.
    expect(await client.getAttribution({ partnerId: 'p', conversionId: 'c' })).toEqual({ attribution: undefined });
  });

  it.each([
    ['not-found', grpc.status.NOT_FOUND, 'conversion "conv-1" not found'],
    ['invalid', grpc.status.INVALID_ARGUMENT, 'payout.amount_micros must not be negative'],
    ['precondition', grpc.status.FAILED_PRECONDITION, 'conversion is being decided'],
    ['rpc', grpc.status.RESOURCE_EXHAUSTED, 'slow down'],
  ])('maps a %s error to its status code with the message as details', async (partnerId, code, details) => {
    const e = await callError(client.attributeConversion(request(partnerId)));
    expect(grpc.status[e.code]).toBe(grpc.status[code]);
    expect(e.details).toBe(details);
    expect(e.method).toBe(`/${SERVICE}/AttributeConversion`);
  });

  it('maps a domain error thrown synchronously (non-async handler) too', async () => {
    const e = await callError(client.getAttribution({ partnerId: 'p', conversionId: 'missing' }));
    expect(grpc.status[e.code]).toBe('NOT_FOUND');
    expect(e.details).toBe('attribution "missing" not found');
  });

  it('answers an unexpected error with INTERNAL (not UNKNOWN) and logs it; expected errors are not logged as such', async () => {
    const before = running.lines.length;
    const e = await callError(client.attributeConversion(request('boom')));
    expect(grpc.status[e.code]).toBe('INTERNAL');
    const logged = running.lines.slice(before);
    expect(logged).toEqual([expect.objectContaining({ level: 50, msg: 'unhandled error in gRPC handler' })]);
    expect(logged[0].err?.message).toBe('connection to the decision store lost');

    const quiet = running.lines.length;
    await callError(client.attributeConversion(request('not-found')));
    expect(running.lines.slice(quiet)).toEqual([]);
  });

  it('fails a call that outlives its deadline with DEADLINE_EXCEEDED, and the channel stays usable', async () => {
    const started = Date.now();
    const e = await callError(client.attributeConversion(request('slow', { conversionRef: '1500' }), { deadlineMs: 200 }));
    expect(grpc.status[e.code]).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(1000);
    // The client-wide default deadline applies when the call names none.
    const short = createGrpcClient(AttributionServiceService, running.address, { deadlineMs: 150 });
    try {
      const d = await callError(short.attributeConversion(request('slow', { conversionRef: '1000' })));
      expect(grpc.status[d.code]).toBe('DEADLINE_EXCEEDED');
      const ok = await short.attributeConversion(request('slow', { conversionRef: '10' }), { deadlineMs: 2000 });
      expect(ok.attribution!.partnerId).toBe('slow');
    } finally {
      short.close();
    }
  });

  it('serves grpc.health.v1 for the server as a whole and for each service', async () => {
    const health = healthClient(running.address);
    try {
      expect(await check(health, '')).toBe('SERVING');
      expect(await check(health, SERVICE)).toBe('SERVING');
      const unknown = await check(health, 'trackly.nope.v1.Nope').catch((e: grpc.ServiceError) => e);
      expect((unknown as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it('lists the service and its file descriptors through server reflection (grpc.reflection.v1)', async () => {
    const pkg = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto')],
      keepCase: true,
      oneofs: true,
    });
    const Reflection = grpc.makeClientConstructor(
      pkg['grpc.reflection.v1.ServerReflection'] as unknown as grpc.ServiceDefinition,
      'ServerReflection',
    );
    const reflection = new Reflection(running.address, grpc.credentials.createInsecure());
    try {
      const call = (reflection as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>> })
        .ServerReflectionInfo();
      const responses: Record<string, unknown>[] = [];
      const done = new Promise<void>((resolve, reject) => {
        call.on('data', (r: Record<string, unknown>) => responses.push(r));
        call.on('end', resolve);
        call.on('error', reject);
      });
      call.write({ list_services: '' });
      call.write({ file_containing_symbol: SERVICE });
      call.end();
      await done;

      const listed = (responses[0].list_services_response as { service: { name: string }[] }).service.map((s) => s.name);
      expect(listed).toContain(SERVICE);
      const files = (responses[1].file_descriptor_response as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
      const text = files.map((f) => Buffer.from(f).toString('latin1')).join('\n');
      // The service's own file and the files it imports (money, status, timestamp) so a client can decode everything.
      expect(text).toContain('trackly/attribution/v1/attribution_service.proto');
      expect(text).toContain('AttributeConversion');
      expect(text).toContain('trackly/common/v1/money.proto');
    } finally {
      reflection.close();
    }
  });
});

describe('gRPC platform: shutdown', () => {
  it('reports NOT_SERVING as soon as close() begins, lets calls in flight finish, then refuses new ones', async () => {
    const { app, address } = await startFake();
    const client = createGrpcClient(AttributionServiceService, address, { deadlineMs: 5000 });
    const health = healthClient(address);
    try {
      // Watch streams the status as it changes: the only way to see it flip while the server is going away.
      const statuses: string[] = [];
      const watch = (health.watch as (req: object) => grpc.ClientReadableStream<{ status: string }>)({ service: SERVICE });
      watch.on('data', (r: { status: string }) => statuses.push(r.status));
      watch.on('error', () => undefined); // cancelled below or by the shutdown
      await waitUntil(() => statuses.length > 0);
      expect(statuses).toEqual(['SERVING']);

      const enteredBefore = slowCallsEntered;
      const inFlight = client.attributeConversion(request('slow', { conversionRef: '500' })).then(
        (r) => r.attribution?.partnerId,
        (e: GrpcCallError) => `${grpc.status[e.code]}: ${e.details}`,
      );
      await waitUntil(() => slowCallsEntered > enteredBefore); // the call has reached the handler
      const closing = app.close();
      await waitUntil(() => statuses.length > 1);
      expect(statuses).toEqual(['SERVING', 'NOT_SERVING']);
      watch.cancel();

      expect(await inFlight).toBe('slow');
      await closing;

      const after = await callError(client.attributeConversion(request('late'), { deadlineMs: 1000 }));
      expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED']).toContain(grpc.status[after.code]);
    } finally {
      health.close();
      client.close();
      await app.close();
    }
  });
  it('cancels a call that outlasts the drain timeout instead of hanging the shutdown', async () => {
    const { app, address } = await startFake(300);
    const client = createGrpcClient(AttributionServiceService, address, { deadlineMs: 10_000 });
    try {
      const enteredBefore = slowCallsEntered;
      const stuck = callError(client.attributeConversion(request('slow', { conversionRef: '5000' })));
      await waitUntil(() => slowCallsEntered > enteredBefore);
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(['CANCELLED', 'UNAVAILABLE']).toContain(grpc.status[(await stuck).code]);
    } finally {
      client.close();
    }
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms: ${cond.toString()}`);
    await sleep(10);
  }
}
