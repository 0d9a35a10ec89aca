import { DeliveryInitial1765500000000 } from './1765500000000-initial.migration';

export const deliveryMigrations = [DeliveryInitial1765500000000];
