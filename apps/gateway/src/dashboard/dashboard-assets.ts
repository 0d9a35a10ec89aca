import { Injectable } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * The dashboard's files, read once at start from apps/gateway/dashboard (sources) or, in a build, the copy the
 * gateway's build puts in dist/apps/gateway/dashboard. Only the files listed are ever served.
 */
@Injectable()
export class DashboardAssets {
  private readonly files = new Map<string, { body: string; contentType: string }>();

  constructor() {
    const dir = [resolve(__dirname, '../../dashboard'), resolve(__dirname, '../../../../dashboard')].find((d) => existsSync(join(d, 'index.html')));
    if (!dir) throw new Error(`dashboard files not found from ${__dirname}`);
    for (const [name, contentType] of Object.entries(FILES)) this.files.set(name, { body: readFileSync(join(dir, name), 'utf8'), contentType });
  }

  get(name: string): { body: string; contentType: string } | undefined {
    return Object.hasOwn(FILES, name) ? this.files.get(name) : undefined;
  }
}
