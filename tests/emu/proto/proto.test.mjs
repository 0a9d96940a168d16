// The protocol library compiled for the Cortex-M0+ (selftest.c) against the vectors file, run
// in rp2040js: "one implementation, test vectors checked on both builds" (DESIGN.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const elf = process.env.PICOD_PROTO_SELFTEST;
const vectors = process.env.PICOD_PROTO_VECTORS;
let emu = null;
try {
  emu = await import('../usb/lib/emu.mjs');
} catch {
  emu = null;
}

test('proto on the RP2040 build passes every test vector', { skip: !emu && 'rp2040js is not installed (run tools/setup.sh)' }, () => {
  const want = { crc16: 0, cobs: 0, frame: 0 };
  for (const line of readFileSync(vectors, 'utf8').split('\n')) {
    const kind = line.split(' ')[0];
    if (kind in want) want[kind]++;
  }
  const mcu = emu.createMcu(elf);
  let out = '';
  mcu.uart[0].onByte = (b) => {
    out += String.fromCharCode(b);
  };
  assert.ok(emu.runUntil(mcu, () => out.includes('\n'), 20e6), `no result line (got '${out}')`);
  assert.equal(out.trim(), `proto-selftest: ok crc16=${want.crc16} cobs=${want.cobs} frame=${want.frame}`);
  assert.ok(want.frame >= 5 && want.cobs >= 10 && want.crc16 >= 3);
});
