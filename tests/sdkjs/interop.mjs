// Drive the official JS SDK's Channel against a chan-nb node (see test_node_sdkjs.py).
//
// usage: node interop.mjs WS_URL NETWORK_ID SDK_DIR [CODE INIT_DATA TICK_DATA GET_DATA]
//
// With the four cb_ arguments (a contract's code and call data, made by chan_nb's FATE
// assembler: init(5), tick(), get()) a contract step runs before the shutdown: the
// initiator creates the contract, the responder calls tick, and the call's result, a
// dry run of get and the contract's store are read back through the SDK.
//
// The SDK does its own signing (AccountMemory, hashed preimage). Each step prints one
// JSON line {"step": ..., ...}; the script exits 0 when every step succeeded.
// The SDK pings every 10 s; the timers are shortened here so the keep-alive can be
// seen within a test (10 000 ms -> 150 ms between pings, 15 000 ms pong deadline -> 3 s).

import { createRequire } from 'node:module';
import { join } from 'node:path';

const [url, networkId, sdkDir, code, initData, tickData, getData] = process.argv.slice(2);
if (!url || !networkId || !sdkDir) {
  console.error('usage: node interop.mjs WS_URL NETWORK_ID SDK_DIR');
  process.exit(2);
}

const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...rest) =>
  realSetTimeout(fn, ms === 10000 ? 150 : ms === 15000 ? 3000 : ms, ...rest);

const require = createRequire(join(sdkDir, 'package.json'));
const { Channel, MemoryAccount, unpackTx, Tag } = require('@aeternity/aepp-sdk');

const log = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));
const fail = (message) => {
  console.log(JSON.stringify({ step: 'failed', message: String(message) }));
  process.exit(1);
};
process.on('unhandledRejection', (e) => fail(e?.stack ?? e));

const initiator = MemoryAccount.generate();
const responder = MemoryAccount.generate();
const signer = (account) => async (_tag, tx) => account.signTransaction(tx, { networkId });
const signTx = (account) => async (tx) => account.signTransaction(tx, { networkId });

let pongs = 0;
const common = {
  url,
  initiatorId: initiator.address,
  responderId: responder.address,
  pushAmount: 3,
  initiatorAmount: 100000000000000000n,
  responderAmount: 100000000000000000n,
  channelReserve: 20000,
  lockPeriod: 10,
  port: 3114,
  debug: true,
};
// count pongs from the SDK's own debug log (it logs every frame it receives)
console.debug = (...args) => {
  if (args.some((a) => a === 'channels.system.pong')) pongs += 1;
};

function waitFor(channel, status, ms = 20000) {
  const wanted = Array.isArray(status) ? status : [status];
  return new Promise((resolve, reject) => {
    if (wanted.includes(channel.status())) return resolve();
    const timer = realSetTimeout(() => reject(new Error(`timeout waiting for ${status}, status ${channel.status()}`)), ms);
    channel.on('statusChanged', (s) => {
      if (wanted.includes(s)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function nextMessage(channel, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = realSetTimeout(() => reject(new Error('no message')), ms);
    channel.on('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
}

// The two Channel objects share one process but not one socket: when one side's action
// resolves, the other side's copy of the new state may still be on its way. The SDK
// refuses a state that arrives while an action of its own is under way, so before
// one side acts after the other, wait until it has seen the same round (a real node
// gives no more ordering guarantee across sockets than the embedded one).
async function caughtUp(a, b, ms = 5000) {
  const deadline = Date.now() + ms;
  while (a.round() !== b.round()) {
    if (Date.now() > deadline) fail(`rounds stay apart: ${a.round()} vs ${b.round()}`);
    await new Promise((res) => realSetTimeout(res, 5));
  }
}

const errors = [];
const watch = (name, channel) => channel.on('error', (e) => errors.push(`${name}: ${e?.message ?? e}`));

// -- open -------------------------------------------------------------------------------
const r = await Channel.initialize({ ...common, role: 'responder', sign: signer(responder) });
watch('responder', r);
const i = await Channel.initialize({ ...common, role: 'initiator', host: 'localhost', sign: signer(initiator) });
watch('initiator', i);
await Promise.all([waitFor(i, 'open'), waitFor(r, 'open')]);
const channelId = i.id();
if (channelId !== r.id()) fail('the two sides disagree on the channel id');
log('open', { channelId, round: i.round() });

// -- transfers both ways --------------------------------------------------------------------
const t1 = await i.update(initiator.address, responder.address, 10, signTx(initiator));
if (!t1.accepted) fail(`transfer I->R refused: ${JSON.stringify(t1)}`);
await caughtUp(r, i);
const t2 = await r.update(responder.address, initiator.address, 4, signTx(responder));
if (!t2.accepted) fail(`transfer R->I refused: ${JSON.stringify(t2)}`);
const t3 = await i.update(initiator.address, responder.address, 100000000000000000000n, signTx(initiator))
  .then((x) => ({ rejected: false, x }), (e) => ({ rejected: true, message: e.message }));
if (!t3.rejected) fail('an overdraft was accepted');
log('transfers', { round: i.round(), overdraft: t3.message });

// -- messages ---------------------------------------------------------------------------------
const toR = nextMessage(r);
await i.sendMessage('hello responder', responder.address);
const m1 = await toR;
const toI = nextMessage(i);
await r.sendMessage('hello initiator', initiator.address);
const m2 = await toI;
if (m1.info !== 'hello responder' || m2.info !== 'hello initiator') fail('messages garbled');
log('messages', { from: m1.from === initiator.address, to: m2.to === initiator.address });

// -- balances, state, poi -----------------------------------------------------------------------
const balances = await i.balances([initiator.address, responder.address]);
const expectI = 100000000000000000n - 3n - 10n + 4n;
const expectR = 100000000000000000n + 3n + 10n - 4n;
if (BigInt(balances[initiator.address]) !== expectI || BigInt(balances[responder.address]) !== expectR) {
  fail(`balances ${JSON.stringify(balances)}`);
}
const state = await r.state();
if (state.signedTx.encodedTx.round !== i.round()) fail('state round differs');
const poi = await i.poi({ accounts: [initiator.address, responder.address] });
log('balances', { balances: Object.fromEntries(Object.entries(balances).map(([k, v]) => [k, String(v)])), poi: poi?.tag });

// -- keep alive with pings -------------------------------------------------------------------------
await new Promise((res) => realSetTimeout(res, 800));
if (pongs < 4) fail(`only ${pongs} pongs`);
log('pings', { pongs });

// -- deposit and withdraw --------------------------------------------------------------------------
const dep = await i.deposit(1000, signTx(initiator));
if (!dep.accepted) fail(`deposit refused ${JSON.stringify(dep)}`);
await caughtUp(r, i);
const wd = await r.withdraw(500, signTx(responder));
if (!wd.accepted) fail(`withdraw refused ${JSON.stringify(wd)}`);
log('deposit_withdraw', { round: i.round() });

// -- leave and reestablish --------------------------------------------------------------------------
await caughtUp(i, r);
const fsmBefore = i.fsmId();
const left = await i.leave();
if (left.channelId !== channelId) fail('leave reports another channel');
await waitFor(i, 'disconnected');
const i2 = await Channel.initialize({
  ...common,
  role: 'initiator',
  host: 'localhost',
  sign: signer(initiator),
  existingChannelId: channelId,
  existingFsmId: fsmBefore,
  reestablish: true,
});
watch('initiator (reestablished)', i2);
await waitFor(i2, 'open');
if (i2.fsmId() === fsmBefore) fail('reestablish kept the old fsm id');
const t4 = await i2.update(initiator.address, responder.address, 1, signTx(initiator));
if (!t4.accepted) fail('transfer after reestablish refused');
log('reestablish', { round: i2.round() });

// -- reconnect (the FSM kept running) ------------------------------------------------------------------
const fsmId = i2.fsmId();
i2.disconnect();
await waitFor(i2, 'disconnected');
const i3 = await Channel.initialize({
  ...common,
  role: 'initiator',
  host: 'localhost',
  sign: signer(initiator),
  existingChannelId: channelId,
  existingFsmId: fsmId,
});
watch('initiator (reconnected)', i3);
await waitFor(i3, 'open');
if (i3.fsmId() !== fsmId) fail('reconnect changed the fsm id');
await caughtUp(r, i3);
const t5 = await r.update(responder.address, initiator.address, 2, signTx(responder));
if (!t5.accepted) fail('transfer after reconnect refused');
log('reconnect', { round: r.round() });

// -- contracts: bytecode from chan_nb's assembler -------------------------------------------------------
if (code) {
  await caughtUp(i3, r);
  const made = await i3.createContract(
    { code, callData: initData, deposit: 0, vmVersion: 7, abiVersion: 3 },
    signTx(initiator),
  );
  if (!made.accepted) fail(`createContract refused: ${JSON.stringify(made)}`);
  await caughtUp(r, i3);
  const called = await r.callContract(
    { amount: 0, callData: tickData, contract: made.address, abiVersion: 3 },
    signTx(responder),
  );
  if (!called.accepted) fail(`callContract refused: ${JSON.stringify(called)}`);
  const round = r.round();
  const result = await r.getContractCall({ caller: responder.address, contract: made.address, round });
  await caughtUp(i3, r);
  const dry = await i3.callContractStatic({ amount: 0, callData: getData, contract: made.address, abiVersion: 3 });
  const state = await i3.getContractState(made.address);
  log('contracts', {
    address: made.address,
    createRound: unpackTx(made.signedTx, Tag.SignedTx).encodedTx.round,
    round,
    returnType: result.returnType,
    returnValue: result.returnValue,
    gasUsed: String(result.gasUsed),
    dryReturnType: dry.returnType,
    dryReturnValue: dry.returnValue,
    store: state.contractState,
    deposit: String(state.contract.deposit),
  });
}

// -- shutdown ------------------------------------------------------------------------------------------
await caughtUp(i3, r);
const closeTx = await i3.shutdown(signTx(initiator));
const closed = unpackTx(closeTx, Tag.SignedTx).encodedTx;
if (closed.tag !== Tag.ChannelCloseMutualTx) fail('shutdown returned another tx');
await waitFor(r, ['died', 'disconnected'], 10000);  // died, then the node closes the socket
log('shutdown', {
  initiatorAmountFinal: String(closed.initiatorAmountFinal),
  responderAmountFinal: String(closed.responderAmountFinal),
  fee: String(closed.fee),
});

if (errors.length) fail(`SDK error events: ${errors.join('; ')}`);
log('done', { pongs });
process.exit(0);
