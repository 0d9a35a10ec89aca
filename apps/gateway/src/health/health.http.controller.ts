import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { PublicRoute } from '../auth/api-key.guard';
import { DownstreamHealth } from '../downstream/downstream-health';

/** Probes, open without an API key: live = the process answers; ready = every downstream reports SERVING. */
@Controller()
@PublicRoute()
export class GatewayHealthHttpController {
  constructor(private readonly health: DownstreamHealth) {}

  @Get('healthz')
  live() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async ready() {
    const downstreams = await this.health.checkAll();
    const down = Object.keys(downstreams).filter((name) => downstreams[name] !== 'SERVING');
    if (down.length) {
      throw new ServiceUnavailableException({ error: 'NOT_READY', message: `not serving: ${down.join(', ')}`, down, downstreams });
    }
    return { status: 'ready', downstreams };
  }
}
