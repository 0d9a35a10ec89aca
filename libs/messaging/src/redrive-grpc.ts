import { Observable, throwError } from 'rxjs';
import type { DataSource } from 'typeorm';
import { FailedPreconditionError, InvalidArgumentError } from '@trackly/kernel';
import type {
  DailyCount as DailyCountMessage,
  GetDailyCountsRequest,
  GetDailyCountsResponse,
  RedriveRequest,
  RedriveResponse,
  RedriveServiceController,
  ResetReadModelRequest,
  ResetReadModelResponse,
} from '@trackly/contracts/ops/v1/redrive_service';
import { RedriveServiceControllerMethods, RedriveServiceService } from '@trackly/contracts/ops/v1/redrive_service';
import { serviceNameOf } from '@trackly/grpc';
import { ReadModelReset, ReadModelSpec } from './read-model-reset';
import { countPerDay, DailyCount, DailyQuery, RedriveProgress, RedriveRange, Redriver, RedriveSource } from './redrive';

const DAY_MS = 86_400_000;
/** A drift check looks at most this far (one request, one answer). */
const MAX_DAYS = 400;

/** The range of a RedriveRequest, or INVALID_ARGUMENT naming the field; `known` = the event types this service publishes. */
export function redriveRange(req: RedriveRequest, known: readonly string[]): RedriveRange {
  if (!req.fromTime) throw new InvalidArgumentError('from_time', 'is required');
  if (!req.toTime) throw new InvalidArgumentError('to_time', 'is required');
  if (req.toTime.getTime() <= req.fromTime.getTime()) throw new InvalidArgumentError('to_time', 'must be after from_time');
  const unknown = req.eventTypes.filter((t) => !known.includes(t));
  if (unknown.length) {
    throw new InvalidArgumentError('event_types', `${unknown.join(', ')} not published by this service (it publishes ${known.join(', ') || 'nothing'})`);
  }
  return { from: req.fromTime, to: req.toTime, subjects: [...req.eventTypes] };
}

/** [from, to) in UTC of GetDailyCountsRequest's inclusive days, or INVALID_ARGUMENT. */
export function dailyRange(req: GetDailyCountsRequest): { from: Date; to: Date } {
  const day = (field: string, v: string) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new InvalidArgumentError(field, 'must be a date YYYY-MM-DD');
    const d = new Date(`${v}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) throw new InvalidArgumentError(field, 'is not a calendar date');
    return d;
  };
  const from = day('from_date', req.fromDate);
  const last = day('to_date', req.toDate);
  if (last < from) throw new InvalidArgumentError('to_date', 'must not be before from_date');
  if ((last.getTime() - from.getTime()) / DAY_MS >= MAX_DAYS) throw new InvalidArgumentError('to_date', `must be within ${MAX_DAYS} days of from_date`);
  return { from, to: new Date(last.getTime() + DAY_MS) };
}

export function dailyCountMessages(rows: DailyCount[]): DailyCountMessage[] {
  return rows.map((r) => ({ day: r.day, eventType: r.subject, count: String(r.count) }));
}

function response(table: RedriveProgress[], done: boolean): RedriveResponse {
  return { counts: table.map((r) => ({ eventType: r.subject, matched: String(r.matched), published: String(r.published) })), done };
}

/**
 * The Redrive RPC over a Redriver: the plan first, then progress at most every `everyMs` (and after the last batch),
 * then done. A dry run answers the plan alone, done. Errors end the stream (mapped to status codes by the filter).
 */
export function redriveStream(redriver: Redriver, req: RedriveRequest, known: readonly string[], everyMs = 250): Observable<RedriveResponse> {
  return new Observable<RedriveResponse>((sub) => {
    void (async () => {
      const range = redriveRange(req, known);
      if (req.dryRun) {
        sub.next(response(await redriver.plan(range), true));
        return;
      }
      let last = 0;
      const table = await redriver.run(range, (p) => {
        const now = Date.now();
        if (last === 0 || now - last >= everyMs) {
          last = now;
          sub.next(response(p, false));
        }
      });
      sub.next(response(table, true));
    })().then(
      () => sub.complete(),
      (e) => sub.error(e),
    );
  });
}

/** gRPC name of the re-drive contract each service with events serves beside its own. */
export const REDRIVE_SERVICE_FULL_NAME = serviceNameOf(RedriveServiceService);

/** What one service's RedriveService is made of; a part it lacks answers as the contract says. */
export interface RedriveServiceSpec {
  /** Service name, for the answers that say what it lacks. */
  service: string;
  /** Full event names this service publishes (empty: it publishes nothing, Redrive is FAILED_PRECONDITION). */
  publishes: string[];
  /** Its re-drive sources, in the order they are published again. */
  sources: RedriveSource[];
  /** Drift check: what it produced, and what its read models applied, per UTC day. */
  produced: DailyQuery[];
  applied: DailyQuery[];
  /** Its read model for ResetReadModel (absent: FAILED_PRECONDITION). */
  readModel?: ReadModelSpec;
}

/**
 * trackly.ops.v1.RedriveService from a RedriveServiceSpec: each service's controller is a subclass with
 * `@Controller()` whose constructor passes its spec (the gRPC methods are declared here, once).
 */
@RedriveServiceControllerMethods()
export class RedriveGrpcController implements RedriveServiceController {
  private readonly redriver: Redriver;
  private readonly reset?: ReadModelReset;

  constructor(
    private readonly ds: DataSource,
    private readonly spec: RedriveServiceSpec,
  ) {
    this.redriver = new Redriver(spec.sources);
    if (spec.readModel) this.reset = new ReadModelReset(ds, spec.readModel);
  }

  redrive(request: RedriveRequest): Observable<RedriveResponse> {
    if (!this.spec.publishes.length) {
      return throwError(() => new FailedPreconditionError(`${this.spec.service} publishes no events; re-drive its producers instead`));
    }
    return redriveStream(this.redriver, request, this.spec.publishes);
  }

  async getDailyCounts(request: GetDailyCountsRequest): Promise<GetDailyCountsResponse> {
    const { from, to } = dailyRange(request);
    return {
      produced: dailyCountMessages(await countPerDay(this.ds, this.spec.produced, from, to)),
      applied: dailyCountMessages(await countPerDay(this.ds, this.spec.applied, from, to)),
      appliedEventTypes: [...new Set(this.spec.applied.map((q) => q.subject))],
    };
  }

  async resetReadModel(request: ResetReadModelRequest): Promise<ResetReadModelResponse> {
    if (!this.reset) {
      throw new FailedPreconditionError(`${this.spec.service} has no read model to rebuild: its tables are its own truth (restore them from a backup)`);
    }
    const counts = await this.reset.run(request.dryRun);
    return {
      removed: counts.map((c) => ({ table: c.table, rowsMatching: c.rowsMatching, rows: String(c.rows) })),
      keptTables: this.reset.keptTables,
      dryRun: request.dryRun,
    };
  }
}
