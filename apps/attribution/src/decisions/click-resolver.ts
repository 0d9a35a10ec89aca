import { Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { EntityManager } from 'typeorm';
import { DomainError } from '@trackly/kernel';
import { GrpcCallError, PromiseClient } from '@trackly/grpc';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { ClickFact } from '../domain/first-click.rules';
import { ProjectionsRepository } from '../projections/projections.repository';
import { TRACKING_CLIENT } from '../attribution.tokens';

const PLAUSIBLE_CLICK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Tracking never issues other click ids: such a conversion cannot be waited for. */
export const isPlausibleClickId = (clickId: string): boolean => PLAUSIBLE_CLICK_ID.test(clickId);

/**
 * Finds the click a conversion names: in the projection first; if its event has not arrived yet (streams are
 * consumed independently), from tracking over gRPC, saving it into the projection. Tracking being unreachable is
 * UNAVAILABLE (retried), never "unknown click".
 */
@Injectable()
export class ClickResolver {
  constructor(
    private readonly projections: ProjectionsRepository,
    @Inject(TRACKING_CLIENT) private readonly tracking: PromiseClient<typeof TrackingServiceService>,
  ) {}

  async resolve(m: EntityManager, clickId: string): Promise<ClickFact | undefined> {
    if (!clickId || !isPlausibleClickId(clickId)) return undefined;
    const local = await this.projections.findClick(m, clickId);
    if (local) return local;
    try {
      const { click } = await this.tracking.getClick({ clickId });
      if (!click) return undefined;
      await this.projections.saveClick(m, click);
      return this.projections.findClick(m, clickId);
    } catch (e) {
      if (e instanceof GrpcCallError && (e.code === status.NOT_FOUND || e.code === status.INVALID_ARGUMENT)) return undefined;
      throw new DomainError('UNAVAILABLE', `cannot look up click ${clickId} in tracking: ${(e as Error).message}`);
    }
  }
}
