import { Controller, Get } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Messaging } from '@trackly/messaging';

/** HTTP probes for an HTTP edge that owns a database: live = the process answers; ready = Postgres and NATS answer. */
@Controller()
export class HealthHttpController {
  constructor(
    private readonly ds: DataSource,
    private readonly messaging: Messaging,
  ) {}

  @Get('healthz')
  live() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async ready() {
    await this.ds.query('SELECT 1');
    if (this.messaging.nc.isClosed()) throw new Error('NATS connection closed');
    return { status: 'ready' };
  }
}
