import { AttributionInitial1764300000000 } from './1764300000000-initial.migration';

export const attributionMigrations = [AttributionInitial1764300000000];
