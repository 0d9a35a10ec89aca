/**
 * Preloaded into an app by the fault suite (`node --require <this> main.js`, scenario c): the app's outbox relay
 * exits 137 right after its first publish, before marking the rows published. The app's own copy of the messaging
 * library is found from its main.js (<app build>/apps/<app>/src/main.js -> <app build>/libs/messaging/src/outbox.js).
 */
import * as path from 'node:path';

const outbox = path.resolve(path.dirname(process.argv[1]), '../../../libs/messaging/src/outbox.js');
const { OutboxRelay } = require(outbox) as { OutboxRelay: { seams: { afterPublish?: () => void } } };
OutboxRelay.seams.afterPublish = () => process.exit(137);
