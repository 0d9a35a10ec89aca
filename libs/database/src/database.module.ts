import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions, ServiceDatabaseOptions, ensureDatabase, migrate } from './data-source';

/** TypeORM for one service's schema; the database, schema and migrations are made ready before the app serves. */
@Module({})
export class DatabaseModule {
  static forService(opts: ServiceDatabaseOptions): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(opts),
          dataSourceFactory: async (options) => {
            await ensureDatabase(opts.url);
            const ds = await new DataSource(options!).initialize();
            await migrate(ds, opts.schema);
            return ds;
          },
        }),
      ],
      exports: [TypeOrmModule],
    };
  }
}
