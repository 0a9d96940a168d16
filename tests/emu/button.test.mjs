// The button on GP15 (active low, pull-up): raw bouncing edges go through the GPIO interrupt,
// the core debounces them and reports press/release/long/double as events with board times.
import test from 'node:test';
import assert from 'node:assert/strict';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { MSG, BUTTON, decodeButtonEvent } = await import('./lib/proto.mjs');

function buttonEvents(client, from = 0) {
  return client.events.slice(from).filter((e) => e.type === MSG.BUTTON_EVENT)
    .map((e) => ({ ...decodeButtonEvent(e.body), atUs: e.tUs }));
}

// Contact bounce: the level flips every 300 us a few times before settling on `down`.
function bounceTo(board, down, flips = 5) {
  for (let i = 0; i < flips; i++) {
    board.setButton(i % 2 === 0 ? down : !down);
    board.run(300);
  }
  board.setButton(down);
}

test('a bouncing click gives exactly one press and one release, with the hold time', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 50);
  hello(client);
  const from = client.events.length;
  bounceTo(board, true);
  board.run(200_000);
  bounceTo(board, false);
  board.run(600_000); // past the double-click window
  const ev = buttonEvents(client, from);
  assert.deepEqual(ev.map((e) => e.kind), [BUTTON.PRESS, BUTTON.RELEASE]);
  const held = ev[1].durationUs;
  assert.ok(held > 190_000 && held < 215_000, `held ${held} us`);
  assert.equal(ev[0].count, 1);
});

test('holding the button past the long-press time reports LONG', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 50);
  hello(client);
  const from = client.events.length;
  board.press();
  board.run(1_500_000);
  board.release();
  board.run(100_000);
  const kinds = buttonEvents(client, from).map((e) => e.kind);
  assert.deepEqual(kinds, [BUTTON.PRESS, BUTTON.LONG, BUTTON.RELEASE]);
});

test('two quick clicks report DOUBLE with the gap between the presses', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 50);
  hello(client);
  const from = client.events.length;
  for (let i = 0; i < 2; i++) {
    board.press();
    board.run(80_000);
    board.release();
    board.run(150_000);
  }
  board.run(500_000);
  const ev = buttonEvents(client, from);
  const dbl = ev.find((e) => e.kind === BUTTON.DOUBLE);
  assert.ok(dbl, `a DOUBLE among ${JSON.stringify(ev.map((e) => e.kind))}`);
  assert.ok(Math.abs(dbl.durationUs - 230_000) < 25_000, `gap ${dbl.durationUs} us`);
});
