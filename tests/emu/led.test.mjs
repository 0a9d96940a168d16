// The heartbeat on GP25 and host control of the LED, observed on the pin.
import test from 'node:test';
import assert from 'node:assert/strict';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { MSG, decodeState, u16le, u32le } = await import('./lib/proto.mjs');
const { ProtoError } = await import('./lib/client.mjs');
const E_NO_SESSION = 18;
const E_STALE = 19;

function ledReq(op, periodMs = 0, duty = 0) {
  return [op, duty, ...u16le(periodMs), ...u32le(0), 0];
}

test('heartbeat blinks on GP25 before and after a host says HELLO', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 20);
  const t0 = board.timeUs();
  board.run(3_000_000);
  const waiting = board.ledEdges(t0);
  assert.ok(waiting.filter((e) => e.on).length >= 2, `waiting: ${waiting.length} edges in 3 s`);
  assert.ok(waiting.filter((e) => !e.on).length >= 2);
  hello(client, 60_000);
  const t1 = board.timeUs();
  board.run(3_000_000);
  const online = board.ledEdges(t1);
  assert.ok(online.filter((e) => e.on).length >= 2, `online: ${online.length} edges in 3 s`);
});

test('before a HELLO since boot the board does not act: SET_LED is refused with no_session', () => {
  // (it may be the retry of a request the board did before it reset: protocol 1.4)
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 20);
  assert.throws(() => client.request(MSG.SET_LED, ledReq(1)),
    (e) => e instanceof ProtoError && e.code === E_NO_SESSION);
  const t0 = board.timeUs();
  board.run(3_000_000);
  assert.ok(board.ledEdges(t0).length >= 2, 'still the heartbeat');
  decodeState(client.request(MSG.GET_STATE)); // reading is answered
  hello(client, 60_000);
  assert.equal(decodeState(client.request(MSG.SET_LED, ledReq(1))).ledOn, 1);
});

test('a request from beyond the window is refused with stale_seq, not done (protocol 1.4)', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 20);
  hello(client, 60_000);
  const old = client.seq;
  client.seq = (old + 100) & 0xffff; // the newest seq jumps 100 ahead (as a damaged frame's would)
  decodeState(client.request(MSG.GET_STATE));
  client.seq = old; // picod's next seq: 100 behind the newest
  assert.throws(() => client.request(MSG.SET_LED, ledReq(1)),
    (e) => e instanceof ProtoError && e.code === E_STALE);
  hello(client, 60_000, 0x5e551014); // a new session empties the window: served again
  assert.equal(decodeState(client.request(MSG.GET_STATE)).ledMode, 4, 'still auto: not done');
  assert.equal(decodeState(client.request(MSG.SET_LED, ledReq(1))).ledOn, 1);
});

test('SET_LED on holds GP25 high; blink follows the period; auto returns to the heartbeat', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 20);
  hello(client, 60_000);
  const st = decodeState(client.request(MSG.SET_LED, ledReq(1)));
  assert.equal(st.ledOn, 1);
  const t0 = board.timeUs();
  board.run(1_000_000);
  assert.equal(board.ledEdges(t0).length, 0, 'steady');
  assert.ok(board.ledOn());
  client.request(MSG.SET_LED, ledReq(3, 100, 50));
  const t1 = board.timeUs();
  board.run(1_000_000);
  const ons = board.ledEdges(t1).filter((e) => e.on);
  assert.ok(ons.length >= 9 && ons.length <= 11, `${ons.length} blinks at 10 Hz in 1 s`);
  for (let i = 1; i < ons.length; i++) {
    const period = ons[i].tUs - ons[i - 1].tUs;
    assert.ok(Math.abs(period - 100_000) <= 100, `period ${period} us`);
  }
  client.request(MSG.SET_LED, ledReq(4));
  const t2 = board.timeUs();
  board.run(3_000_000);
  assert.ok(board.ledEdges(t2).length >= 2, 'heartbeat again');
});

test('a new blink takes effect at once, also in the middle of a long blink phase', () => {
  // The LED task sleeps through each phase; a change request wakes it (sched_task_wake).
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 20);
  hello(client, 60_000);
  client.request(MSG.SET_LED, ledReq(3, 20_000, 50)); // 10 s on, 10 s off
  board.run(200_000);
  const t0 = board.timeUs();
  client.request(MSG.SET_LED, ledReq(3, 100, 50));
  board.run(300_000);
  const edges = board.ledEdges(t0);
  assert.ok(edges.length >= 5, `${edges.length} edges in 300 ms after the change, want >= 5`);
  assert.ok(edges[0].tUs - t0 <= 60_000, `first edge ${(edges[0].tUs - t0) / 1000} ms after the change`);
});
