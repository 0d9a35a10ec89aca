import { Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { DataSource, EntityManager } from 'typeorm';
import { GrpcCallError, PromiseClient } from '@trackly/grpc';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { ProjectionsRepository, projectedClick } from '../projections/projections.repository';
import { TRACKING_CLIENT } from '../attribution.tokens';
import { ClickProjectionWriter, TrackedClick, TrackingClicks, Tx, UnitOfWork } from './ports';

/** Transactions on the service's DataSource. */
@Injectable()
export class PgUnitOfWork implements UnitOfWork {
  constructor(private readonly ds: DataSource) {}

  run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.ds.transaction((m) => fn(m));
  }
}

/** Clicks learned from tracking, into the projection. */
@Injectable()
export class PgClickProjectionWriter implements ClickProjectionWriter {
  constructor(private readonly projections: ProjectionsRepository) {}

  saveClicks(tx: Tx, clicks: TrackedClick[]): Promise<void> {
    return this.projections.saveClicks(tx as EntityManager, clicks);
  }
}

/**
 * Tracking's GetClick over gRPC, for a click whose event has not arrived yet (streams are consumed independently).
 * NOT_FOUND (and a click id tracking refuses) is "no such click"; anything else is thrown: unreachable, never unknown.
 */
@Injectable()
export class GrpcTrackingClicks implements TrackingClicks {
  constructor(@Inject(TRACKING_CLIENT) private readonly tracking: PromiseClient<typeof TrackingServiceService>) {}

  async getClick(clickId: string): Promise<TrackedClick | undefined> {
    try {
      const { click } = await this.tracking.getClick({ clickId });
      return click ? projectedClick(click) : undefined;
    } catch (e) {
      if (e instanceof GrpcCallError && (e.code === status.NOT_FOUND || e.code === status.INVALID_ARGUMENT)) return undefined;
      throw e;
    }
  }
}
