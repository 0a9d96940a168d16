// The seeds' programs (examples/, docs/FIRMWARE.md "Examples") in rp2040js: each image boots
// on the firmware's port and does what its seed does - LED timing on GP25, text on UART0,
// button on GP15, a BME280 on I2C0. Emulated time only (deterministic).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { SKIP } from './lib/env.mjs';

const dir = process.env.PICOD_EXAMPLES_DIR;
if (!existsSync(new URL('./node_modules/rp2040js/package.json', import.meta.url))) {
  console.log('SKIP: tests/emu/node_modules is missing (tools/setup.sh)');
  process.exit(SKIP);
}
if (!dir || !existsSync(`${dir}/blink.bin`)) {
  console.error(`error: PICOD_EXAMPLES_DIR must hold the example images (got '${dir}')`);
  process.exit(1);
}
const { EmuBoard } = await import('./lib/board.mjs');
const { BME280 } = await import('./lib/devices.mjs');

function boot(name) {
  const board = new EmuBoard({ firmware: `${dir}/${name}.bin` });
  let text = '';
  const lines = []; // { tUs, s }
  board.onLinkByte((b) => {
    if (b === 10) {
      lines.push({ tUs: board.timeUs(), s: text.replace(/\r$/, '') });
      text = '';
    } else {
      text += String.fromCharCode(b);
    }
  });
  return { board, lines };
}
// (the port's GPIO set-up drives GP25 once at boot: edges from the first task run on)
const edges = (board, from = 1000) => board.ledEdges(from);
const near = (a, b, tol = 1000) => Math.abs(a - b) <= tol; // us
const intervals = (xs) => xs.slice(1).map((x, i) => x - xs[i]);

test('blink: LED on 300 ms, off 700 ms, "LED ON"/"LED OFF" each time', () => {
  const { board, lines } = boot('blink');
  board.run(3_050_000);
  const e = edges(board);
  assert.ok(e.length >= 6, `${e.length} edges`);
  for (let i = 1; i < e.length; i++) {
    const d = e[i].tUs - e[i - 1].tUs;
    assert.ok(near(d, e[i - 1].on ? 300_000 : 700_000), `edge ${i}: ${d} us`);
  }
  const s = lines.map((l) => l.s);
  assert.deepEqual(s.slice(0, 6), ['LED ON', 'LED OFF', 'LED ON', 'LED OFF', 'LED ON', 'LED OFF']);
});

test('two_tasks: toggle every 250 ms, a heartbeat a second, both running', () => {
  const { board, lines } = boot('two_tasks');
  board.run(3_100_000);
  const d = intervals(edges(board).map((x) => x.tUs));
  assert.ok(d.length >= 11 && d.every((x) => near(x, 250_000)), `toggles ${d}`);
  const hb = lines.filter((l) => l.s.startsWith('Heartbeat'));
  assert.deepEqual(hb.map((l) => l.s), ['Heartbeat 1', 'Heartbeat 2', 'Heartbeat 3', 'Heartbeat 4']);
  assert.ok(intervals(hb.map((l) => l.tUs)).every((x) => near(x, 1_000_000)));
  assert.ok(lines.filter((l) => l.s === 'LED toggled').length >= 12);
});

test('button_queue: the time between presses becomes the blink delay', () => {
  const { board, lines } = boot('button_queue');
  board.run(200_000);
  board.press(); board.run(100_000); board.release();
  board.run(500_000); // second press 600 ms after the first
  board.press(); board.run(100_000); board.release();
  board.run(300_000);
  const nums = lines.map((l) => Number(l.s)).filter((n) => !Number.isNaN(n));
  assert.equal(nums.length, 2, lines.map((l) => l.s).join('|'));
  assert.ok(near(nums[1] * 1000, 600_000, 45_000), `interval ${nums[1]} ms`); // 40 ms polling
  const t0 = board.timeUs();
  board.run(3_000_000);
  const d = intervals(board.ledEdges(t0).map((x) => x.tUs));
  assert.ok(d.length >= 4 && d.every((x) => near(x, nums[1] * 1000)), `toggles ${d}`);
});

test('producer_consumer: results in order, the producer waits while the queue is full', () => {
  const { board, lines } = boot('producer_consumer');
  board.run(4_000_000);
  const r = lines.filter((l) => l.s.startsWith('Result was ')).map((l) => Number(l.s.slice(11)));
  assert.ok(r.length >= 20, `${r.length} results`);
  assert.deepEqual(r, r.map((_, i) => i), 'in order, none lost');
  // slow consumer first (250 ms each): results 0..9 come 250 ms apart, then 100 ms apart
  const t = lines.filter((l) => l.s.startsWith('Result was ')).map((l) => l.tUs);
  assert.ok(near(t[5] - t[4], 250_000, 2000));
  assert.ok(near(t[18] - t[17], 100_000, 2000));
});

test('lock_killer: one holder at a time in turn, all stopped by the killer at 10 s', () => {
  const { board, lines } = boot('lock_killer');
  board.run(12_000_000);
  const acq = lines.filter((l) => l.s.startsWith('Acquired lock in task '));
  assert.equal(acq.length, 20, `${acq.length} acquisitions in 10 s of 0.5 s each`);
  assert.deepEqual(acq.slice(0, 6).map((l) => l.s.slice(-1)), ['1', '2', '3', '1', '2', '3']);
  assert.ok(intervals(acq.map((l) => l.tUs)).every((x) => near(x, 500_000)));
  const k = lines.find((l) => l.s === 'killer: done');
  assert.ok(k && near(k.tUs - lines[0].tUs, 10_000_000, 5000));
  assert.ok(acq.every((l) => l.tUs <= k.tUs), 'nothing after the killer');
});

test('wait_for: forever() runs until the 5 s timeout, is told, then foo goes on', () => {
  const { board, lines } = boot('wait_for');
  board.run(8_000_000);
  const s = lines.map((l) => l.s);
  assert.equal(s[0], 'Starting');
  assert.equal(s.filter((x) => x === 'Got here').length, 16); // 300 ms steps in 5 s
  const to = lines.find((l) => l.s === 'Got timeout');
  const done = lines.find((l) => l.s === 'foo: done');
  assert.ok(to && done);
  assert.ok(near(to.tUs - lines[0].tUs, 5_000_000, 2000));
  assert.ok(near(done.tUs - to.tUs, 2_000_000, 2000));
  assert.equal(s.indexOf('Got timeout'), s.length - 2);
});

test('fault_isolation: a failing task is reported by its awaiter, the blink runs on', () => {
  const { board, lines } = boot('fault_isolation');
  board.run(6_000_000);
  const s = lines.map((l) => l.s);
  assert.deepEqual(s, ['About to throw exception.', 'foo was interrupted by zero division']);
  const after = board.ledEdges(lines[1].tUs);
  const d = intervals(after.map((x) => x.tUs));
  assert.ok(d.length >= 10 && d.every((x) => near(x, 250_000)), 'LED keeps blinking after it');
});

test('status_monitor: blink 500 ms, presses seen, heartbeat every 2 s, concurrently', () => {
  const { board, lines } = boot('status_monitor');
  board.run(1_000_000);
  for (let i = 0; i < 3; i++) {
    board.press(); board.run(150_000); board.release(); board.run(350_000);
  }
  board.run(3_000_000);
  const d = intervals(edges(board).map((x) => x.tUs));
  assert.ok(d.length >= 8 && d.every((x) => near(x, 500_000)), `LED never stops: ${d}`);
  assert.deepEqual(lines.filter((l) => l.s.startsWith('Button')).map((l) => l.s),
    ['Button pressed 1', 'Button pressed 2', 'Button pressed 3']);
  const hb = lines.filter((l) => l.s.startsWith('Heartbeat'));
  assert.ok(hb.length >= 2 && intervals(hb.map((l) => l.tUs)).every((x) => near(x, 2_000_000)));
});

test('sensor_poll: scan once, then a reading every 2 s from the BME280', () => {
  const { board, lines } = boot('sensor_poll');
  board.bus.add(new BME280(board, 0x76, { tempC: 21.5, pressurePa: 101325, humidityPct: 40 }));
  board.run(5_000_000);
  assert.equal(lines[0].s, 'I2C devices: [118]');
  const r = lines.filter((l) => l.s.startsWith('Temp raw: '));
  assert.ok(r.length >= 2, lines.map((l) => l.s).join('|'));
  // every 2 s plus the 10 ms conversion and the bus time (the seed's loop drifts the same way)
  assert.ok(intervals(r.map((l) => l.tUs)).every((x) => near(x, 2_010_000, 10_000)));
  const m = /^Temp raw: (\d+) Humidity raw: (\d+)$/.exec(r[0].s);
  assert.ok(m && Number(m[1]) > 0 && Number(m[2]) > 0, r[0].s);
});
