// Time off-chain transfers made by the official JS SDK against a chan-nb node
// (`chan-nb bench`, group sdkjs; see benchmarks/node.py).
//
// usage: node bench.mjs WS_URL NETWORK_ID SDK_DIR TRANSFERS
//
// Two SDK Channel objects (initiator and responder, in this one process, each signing
// with its own MemoryAccount) open a channel, then make TRANSFERS transfers of 1 coin,
// alternating payer, each awaited before the next (as the Python benchmark does). Prints
// one JSON line {"transfers": N, "seconds": S, "round": R} and exits 0, or
// {"error": ...} and exits 1.

import { createRequire } from 'node:module';
import { join } from 'node:path';

const [url, networkId, sdkDir, countText] = process.argv.slice(2);
const count = Number(countText ?? '200');
if (!url || !networkId || !sdkDir || !(count > 0)) {
  console.error('usage: node bench.mjs WS_URL NETWORK_ID SDK_DIR TRANSFERS');
  process.exit(2);
}
const fail = (e) => {
  console.log(JSON.stringify({ error: String(e?.stack ?? e) }));
  process.exit(1);
};
process.on('unhandledRejection', fail);

const require = createRequire(join(sdkDir, 'package.json'));
const { Channel, MemoryAccount } = require('@aeternity/aepp-sdk');

const initiator = MemoryAccount.generate();
const responder = MemoryAccount.generate();
const signer = (account) => async (_tag, tx) => account.signTransaction(tx, { networkId });
const signTx = (account) => async (tx) => account.signTransaction(tx, { networkId });
const common = {
  url,
  initiatorId: initiator.address,
  responderId: responder.address,
  pushAmount: 0,
  initiatorAmount: 10n ** 18n,
  responderAmount: 10n ** 18n,
  channelReserve: 1,
  lockPeriod: 10,
  port: 3115,
};

function waitFor(channel, status, ms = 20000) {
  return new Promise((resolve, reject) => {
    if (channel.status() === status) return resolve();
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${status}`)), ms);
    channel.on('statusChanged', (s) => {
      if (s === status) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

try {
  const r = await Channel.initialize({ ...common, role: 'responder', sign: signer(responder) });
  const i = await Channel.initialize({ ...common, role: 'initiator', host: 'localhost', sign: signer(initiator) });
  await Promise.all([waitFor(i, 'open'), waitFor(r, 'open')]);
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n += 1) {
    const [from, fromAccount, to, channel] = n % 2 === 0
      ? [initiator.address, initiator, responder.address, i]
      : [responder.address, responder, initiator.address, r];
    const result = await channel.update(from, to, 1, signTx(fromAccount));
    if (!result.accepted) fail(`transfer ${n} refused: ${JSON.stringify(result)}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ transfers: count, seconds, round: i.round() }));
  i.disconnect();
  r.disconnect();
  process.exit(0);
} catch (e) {
  fail(e);
}
