import { AttributionInitial1764300000000 } from './1764300000000-initial.migration';
import { AttributionEngine1764400000000 } from './1764400000000-engine.migration';

export const attributionMigrations = [AttributionInitial1764300000000, AttributionEngine1764400000000];
