// The real firmware boots in rp2040js, identifies itself in HELLO and keeps its identity.
import test from 'node:test';
import assert from 'node:assert/strict';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle, TEST_BOARD_ID } = await import('./lib/scenario.mjs');
const { RESET_CAUSE, MSG } = await import('./lib/proto.mjs');

test('boots, prints its banner and answers HELLO as an RP2040 after power-on', () => {
  const { board, client } = bootBoard(fw);
  settle(board, 50);
  assert.match(board.debugText, /picod rp2040: boot, reset cause 00000001/);
  const h = hello(client);
  assert.equal(h.protoMajor, 1);
  assert.equal(h.platform, 1, 'platform RP2040');
  assert.equal(h.resetCause, RESET_CAUSE.POWER_ON);
  assert.equal(h.boardId, TEST_BOARD_ID, 'board ID from the provisioned flash page');
  assert.equal(h.crash.kind, 0, 'no crash recorded after power-on');
  assert.ok(h.caps & 0x7, 'LED, button and I2C capabilities');
  assert.equal(client.badFrames, 0, 'every frame from the board had a valid COBS/CRC');
});

test('falls back to a stable board ID where the flash unique ID cannot be read', () => {
  const ids = [];
  for (let i = 0; i < 2; i++) {
    const { board, client } = bootBoard(fw, { boardId: null });
    settle(board, 20);
    ids.push(hello(client).boardId);
  }
  assert.equal(ids[0], '7069636f64656d75', '"picodemu"');
  assert.equal(ids[1], ids[0]);
});

test('answers PING with the same bytes and keeps uptime moving', () => {
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  const payload = Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff); // zeros inside too
  assert.deepEqual(Array.from(client.request(MSG.PING, payload)), payload);
  const a = hello(client).uptimeMs;
  board.run(250_000);
  const b = hello(client).uptimeMs;
  assert.ok(b - a >= 240 && b - a <= 260, `uptime advanced ${b - a} ms over 250 ms`);
});

test('stays up on BOOTSEL where there is no bootrom, reboots on a normal REBOOT', () => {
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  const h0 = hello(client);
  // rp2040js has no bootrom: no reset_usb_boot, so HELLO must not advertise BOOTSEL and
  // REBOOT BOOTSEL must be refused with ERROR unsupported (code 11) instead of an ack.
  assert.equal(h0.caps & (1 << 3), 0, 'PROTO_CAP_BOOTSEL not advertised without a bootrom');
  assert.throws(() => client.request(MSG.REBOOT, [1]), (e) => e.code === 11,
    'REBOOT BOOTSEL answered with ERROR unsupported, not acked');
  board.run(100_000);
  assert.equal(board.resets.length, 0);
  assert.equal(hello(client).resetCause, RESET_CAUSE.POWER_ON);
  client.send(MSG.REBOOT, [0]);
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 500, what: 'the reset' });
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.SOFTWARE);
  assert.equal(h.boardId, TEST_BOARD_ID, 'same identity after the reset');
});
