// The double-buffered endpoint model (lib/dbuf-model.mjs) on its own: no firmware runs; the
// test plays the CPU (DPRAM and register writes through the bus, as firmware would) and the
// host, and checks each datasheet rule the model claims (R1..R11 in the model's header).
import test from 'node:test';
import assert from 'node:assert/strict';

let RP2040, installDoubleBufferModel;
try {
  ({ RP2040 } = await import('rp2040js'));
  ({ installDoubleBufferModel } = await import('./lib/dbuf-model.mjs'));
} catch {
  RP2040 = null;
}
const skip = RP2040 ? false : 'rp2040js is not installed (run tools/setup.sh)';

const DPRAM = 0x50100000;
const REGS = 0x50110000;
const ENABLE = 1 << 31;
const DOUBLE = 1 << 30;
const PER_BUFF = 1 << 29;
const PER_DOUBLE = 1 << 28;
const BULK = 2 << 26;
const FULL = 1 << 15;
const PID1 = 1 << 13;
const RESET = 1 << 12;
const STALL = 1 << 11;
const AVAIL = 1 << 10;
const EP2_IN_CTRL = 0x10;
const EP2_OUT_CTRL = 0x14;
const EP2_IN_BC = 0x90;
const EP2_OUT_BC = 0x94;
const BIT_EP2_IN = 1 << 4;
const BIT_EP2_OUT = 1 << 5;

function setup({ irq = PER_BUFF } = {}) {
  const mcu = new RP2040();
  const model = installDoubleBufferModel(mcu);
  model.logPackets = true;
  const w = (off, v) => mcu.writeUint32(DPRAM + off, v >>> 0);
  w(EP2_OUT_CTRL, ENABLE | DOUBLE | irq | BULK | 0x200);
  w(EP2_IN_CTRL, ENABLE | DOUBLE | irq | BULK | 0x280);
  const host = { offered: [], received: [] };
  mcu.usbCtrl.onEndpointRead = (ep, len) => host.offered.push([ep, len]);
  mcu.usbCtrl.onEndpointWrite = (ep, data) => host.received.push([ep, [...data]]);
  const run = (us) => mcu.clock.tick(us * 1000);
  const bc = (off) => mcu.usbDPRAMView.getUint32(off, true) >>> 0;
  const reg = (off) => mcu.readUint32(REGS + off) >>> 0;
  const setReg = (off, v) => mcu.writeUint32(REGS + off, v >>> 0);
  // Arm: the two-step write the datasheet asks for (everything, then AVAILABLE).
  const arm = (off, word, avail) => { w(off, word); w(off, word | avail); };
  return { mcu, model, host, w, run, bc, reg, setReg, arm };
}

test('R3/R6: two armed OUT halves take two packets in order, each with its own status', { skip }, () => {
  const { mcu, model, host, run, bc, reg, arm } = setup();
  arm(EP2_OUT_BC, RESET | 64 | ((PID1 | 64) << 16), AVAIL | (AVAIL << 16));
  assert.deepEqual(host.offered, [[2, 64]], 'buffer 0 offered first');
  mcu.usbCtrl.endpointReadDone(2, new Uint8Array(64).fill(0xa0));
  run(10);
  assert.deepEqual(host.offered, [[2, 64], [2, 64]], 'buffer 1 offered right after: no NAK');
  mcu.usbCtrl.endpointReadDone(2, new Uint8Array(20).fill(0xa1));
  run(10);
  const word = bc(EP2_OUT_BC);
  assert.equal(word & 0xffff, FULL | 64, 'buffer 0: FULL, 64 bytes, AVAILABLE and RESET cleared');
  assert.equal(word >>> 16, FULL | PID1 | 20, 'buffer 1: FULL, 20 bytes');
  assert.equal(mcu.usbDPRAM[0x200], 0xa0);
  assert.equal(mcu.usbDPRAM[0x240], 0xa1, 'buffer 1 is buffer 0 + 64 (R1)');
  assert.equal(reg(0x58) & BIT_EP2_OUT, BIT_EP2_OUT);
  assert.deepEqual(model.stats.packets.map((p) => [p.half, p.len]), [[0, 64], [1, 20]]);
  assert.equal(model.stats.seqErrors, 0);
});

test('R3/R5: IN halves go out buffer 0 first, with their PIDs', { skip }, () => {
  const { mcu, model, host, run, bc, arm } = setup();
  mcu.usbDPRAM.fill(1, 0x280, 0x2c0);
  mcu.usbDPRAM.fill(2, 0x2c0, 0x300);
  arm(EP2_IN_BC, RESET | FULL | 64 | ((FULL | PID1 | 3) << 16), AVAIL | (AVAIL << 16));
  run(25);
  assert.deepEqual(host.received, [[2, new Array(64).fill(1)], [2, [2, 2, 2]]]);
  assert.equal(bc(EP2_IN_BC), 64 | ((PID1 | 3) << 16), 'FULL and AVAILABLE cleared in both');
  assert.deepEqual(model.stats.packets.map((p) => p.pid), [0, 1]);
  assert.equal(model.stats.seqErrors, 0);
});

test('R3/R4: the selector stays on buffer 1 until RESET; only the selected half is used', { skip }, () => {
  const { model, host, run, arm } = setup();
  arm(EP2_IN_BC, RESET | FULL | 1, AVAIL);
  run(15);
  assert.equal(host.received.length, 1);
  assert.equal(model.state(2, false).sel, 1);
  arm(EP2_IN_BC, FULL | PID1 | 1, AVAIL); // buffer 0 again, no RESET: the controller waits on 1
  run(50);
  assert.equal(host.received.length, 1, 'NAK: buffer 1 is not available');
  arm(EP2_IN_BC, RESET | FULL | PID1 | 1, AVAIL);
  run(15);
  assert.equal(host.received.length, 2, 'RESET puts the selector back on buffer 0');
});

test('R7/R8/R9: two completions behind one BUFF_STATUS bit, BUFF_CPU_SHOULD_HANDLE', { skip }, () => {
  const { run, reg, setReg, arm } = setup();
  arm(EP2_IN_BC, RESET | FULL | 1 | ((FULL | PID1 | 1) << 16), AVAIL | (AVAIL << 16));
  run(25);
  assert.equal(reg(0x58) & BIT_EP2_IN, BIT_EP2_IN);
  assert.equal(reg(0x5c) & BIT_EP2_IN, 0, 'handle buffer 0 first');
  setReg(0x58, BIT_EP2_IN);
  assert.equal(reg(0x58) & BIT_EP2_IN, BIT_EP2_IN, 'set again at once: buffer 1 also done');
  assert.equal(reg(0x5c) & BIT_EP2_IN, BIT_EP2_IN, 'now buffer 1');
  setReg(0x58, BIT_EP2_IN);
  assert.equal(reg(0x58) & BIT_EP2_IN, 0);
});

test('R7: INTERRUPT_PER_DOUBLE_BUFF raises BUFF_STATUS only when both halves are done', { skip }, () => {
  const { run, reg, arm } = setup({ irq: PER_DOUBLE });
  arm(EP2_IN_BC, RESET | FULL | 1 | ((FULL | PID1 | 1) << 16), AVAIL | (AVAIL << 16));
  run(12);
  assert.equal(reg(0x58) & BIT_EP2_IN, 0, 'one buffer done: no interrupt yet');
  run(12);
  assert.equal(reg(0x58) & BIT_EP2_IN, BIT_EP2_IN);
});

test('R10: re-arming while the controller owns a half is reported; aborts are not', { skip }, () => {
  const { model, w, arm } = setup();
  arm(EP2_OUT_BC, RESET | 64 | ((PID1 | 64) << 16), AVAIL | (AVAIL << 16));
  w(EP2_OUT_BC, RESET | 64 | AVAIL);
  assert.equal(model.stats.ownedRewrites.length, 1);
  w(EP2_OUT_BC, STALL);
  w(EP2_OUT_BC, 0);
  assert.equal(model.stats.ownedRewrites.length, 1, 'STALL and 0 take the buffers back');
});

test('R5: STALL answers instead of data; single-buffered endpoints stay rp2040js\'s', { skip }, () => {
  const { mcu, host, w, run, arm } = setup();
  arm(EP2_IN_BC, STALL | RESET | FULL | 1, AVAIL);
  run(30);
  assert.equal(host.received.length, 0);
  w(0x08, ENABLE | PER_BUFF | BULK | 0x180); // EP1 IN, single-buffered
  assert.equal(mcu.dbufModel.isModelled(1, false), false);
  mcu.usbDPRAM[0x180] = 7;
  w(0x88, FULL | 1 | AVAIL);
  run(15);
  assert.deepEqual(host.received, [[1, [7]]]);
});

test('R11: an OUT packet with the wrong PID is a data sequence error', { skip }, () => {
  const { mcu, model, run, reg, arm } = setup();
  arm(EP2_OUT_BC, RESET | PID1 | 64, AVAIL); // the host starts at DATA0 after configuration
  mcu.usbCtrl.endpointReadDone(2, new Uint8Array(1));
  run(15);
  assert.equal(model.stats.seqErrors, 1);
  assert.ok(reg(0x50) & (1 << 31), 'SIE_STATUS.DATA_SEQ_ERROR');
});
