/**
 * Preloaded into an app by the fault suite (`node --require <this> main.js`, scenario c): the app's relays (its
 * outbox relay, and a table relay such as ingest's conversions) exit 137 right after their first publish, before
 * the rows are marked published or the cursor moves. The app's own copy of the messaging library is found from its
 * main.js (<app build>/apps/<app>/src/main.js -> <app build>/libs/messaging/src/outbox.js).
 */
import * as path from 'node:path';

const lib = path.resolve(path.dirname(process.argv[1]), '../../../libs/messaging/src');
const { OutboxRelay } = require(path.join(lib, 'outbox.js')) as { OutboxRelay: { seams: { afterPublish?: () => void } } };
const { TableRelay } = require(path.join(lib, 'table-relay.js')) as { TableRelay: { seams: { afterPublish?: () => void } } };
OutboxRelay.seams.afterPublish = () => process.exit(137);
TableRelay.seams.afterPublish = () => process.exit(137);
