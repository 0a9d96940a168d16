// The product image (firmware.elf, USB link) in rp2040js: with rp2040js's own USBCDC host
// helper and no double-buffer model (stock rp2040js), the RP2040-E5 fix on B0/B1 only, and a
// dead crystal (no 48 MHz: LED fault code, then a reboot that tries again). Issue 9.
// PICOD_FW_PRODUCT points at firmware.elf.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

const fw = process.env.PICOD_FW_PRODUCT;
let emu, USBCDC, proto, EmuBoard;
try {
  emu = await import('./lib/emu.mjs');
  ({ USBCDC } = await import('rp2040js'));
  proto = await import('../lib/proto.mjs');
  ({ EmuBoard } = await import('./lib/board.mjs'));
} catch (e) {
  emu = null;
}
const info = fw ? fw.replace(/\.elf$/, '.info') : '';
const skip = !emu ? 'rp2040js is not installed (run tools/setup.sh)'
  : !fw || !existsSync(fw) ? 'PICOD_FW_PRODUCT not set or missing (build the firmware)'
  : existsSync(info) && !/link=usb/.test(readFileSync(info, 'utf8')) ? 'firmware.elf is not the USB build'
  : false;
if (!skip && existsSync(info) && /app=stub/.test(readFileSync(info, 'utf8'))) {
  console.error('error: firmware.elf was linked with the stub app');
  process.exit(1);
}

const GP15_CTRL = 15 * 8 + 4;
const FUNC_SIO = 5;

// A protocol client over some byte pipe: write(bytes), and a run(pred, maxUs) that advances the
// emulator; frames come in through feed().
class UsbClient {
  constructor(write, run) {
    this.write = write;
    this.run = run;
    this.dec = new proto.FrameDecoder();
    this.frames = [];
    this.seq = 1;
  }

  feed(bytes) {
    for (const b of bytes) {
      const f = this.dec.push(b);
      if (f && !f.error) this.frames.push(f);
    }
  }

  request(type, body = [], maxUs = 2e6) {
    const seq = this.seq++;
    this.write([0, ...proto.encodeFrame(type, seq, body)]);
    const answer = () => this.frames.find((f) => f.seq === seq && f.type >= 0x80);
    assert.ok(this.run(() => answer() !== undefined, maxUs), `no answer to 0x${type.toString(16)}`);
    const f = answer();
    this.frames = this.frames.filter((g) => g !== f);
    assert.equal(f.type, proto.ACK(type), `0x${type.toString(16)} answered 0x${f.type.toString(16)}`);
    return f.body;
  }
}

test('with rp2040js\'s own USBCDC helper (stock rp2040js): HELLO, then PINGs echoed once each', { skip }, () => {
  const mcu = emu.createMcu(fw, { stockUsb: true });
  const cdc = new USBCDC(mcu.usbCtrl);
  let connected = false;
  cdc.onDeviceConnected = () => { connected = true; };
  const client = new UsbClient((bytes) => bytes.forEach((b) => cdc.sendSerialByte(b)),
    (pred, maxUs) => emu.runUntil(mcu, pred, maxUs));
  cdc.onSerialData = (buf) => client.feed(buf);
  assert.ok(emu.runUntil(mcu, () => connected, 3e6), 'USBCDC saw the device configured');
  const h = proto.decodeHelloAck(client.request(proto.MSG.HELLO, proto.helloReq(60000)));
  assert.equal(h.platform, 1);
  for (let i = 0; i < 20; i++) {
    const payload = Array.from({ length: 200 }, (_, k) => (k * 13 + i) & 0xff);
    assert.deepEqual(Array.from(client.request(proto.MSG.PING, payload)), payload, `PING ${i}`);
  }
  emu.runUntil(mcu, () => false, 50000);
  const extra = client.frames.filter((f) => f.type >= 0x80);
  assert.deepEqual(extra.map((f) => f.seq), [], 'no answer twice: no OUT data taken again');
});

function linuxBoard(opts) {
  const board = new EmuBoard(fw, opts);
  const muxing = [];
  const usb = board.mcu.usbCtrl;
  const write = usb.writeUint32.bind(usb);
  usb.writeUint32 = (off, value) => {
    if (off === 0x74) muxing.push(value);
    write(off, value);
  };
  board.enumerate();
  const client = new UsbClient((bytes) => board.host.write(bytes), (pred, maxUs) => {
    const done = () => {
      client.feed(board.host.received.splice(0));
      return pred();
    };
    return board.run(done, maxUs) === true || done();
  });
  return { board, client, muxing };
}

test('RP2040-E5 on B0/B1: J forced through GPIO15 after the bus reset, GPIO15 given back to the button', { skip }, () => {
  const { board, client, muxing } = linuxBoard({}); // rp2040js's CHIP_ID says B1
  const h = proto.decodeHelloAck(client.request(proto.MSG.HELLO, proto.helloReq(60000)));
  assert.equal(h.chipRev, 1);
  client.run(() => false, 20000); // the fix's last step (CONNECTED, give the PHY back)
  assert.ok(muxing.includes(0x4 | 0x8), `switched to the digital pad (muxing writes ${muxing})`);
  assert.equal(muxing[muxing.length - 1], 0x1 | 0x8, 'and back to the PHY');
  const ctrl = board.mcu.gpio[15].ctrl;
  assert.equal(ctrl & 0x1f, FUNC_SIO, 'GPIO15 back on SIO (the button)');
  assert.equal((ctrl >> 12) & 3, 0, 'no output override left');
  assert.equal((ctrl >> 16) & 3, 0, 'no input override left');
  assert.equal(board.mcu.readUint32(0x40014000 + GP15_CTRL), ctrl);
  // The button still works: a press is reported.
  const before = client.frames.length;
  board.setButton(true);
  assert.ok(client.run(() => client.frames.slice(before).some((f) => f.type === proto.MSG.BUTTON_EVENT), 1e6),
    'BUTTON_EVENT after the fix released GPIO15');
});

test('RP2040-E5 is not applied on B2 silicon, which reports its revision', { skip }, () => {
  const { client, muxing } = linuxBoard({ silicon: { chipRev: 2 } });
  const h = proto.decodeHelloAck(client.request(proto.MSG.HELLO, proto.helloReq(60000)));
  assert.equal(h.chipRev, 2);
  assert.equal(muxing.filter((v) => v & 0x4).length, 0, `never on the digital pad (muxing ${muxing})`);
});

test('no 48 MHz (dead crystal): LED fault code, no USB; a reboot tries again and says why', { skip }, () => {
  const board = new EmuBoard(fw, { silicon: { xosc: 'dead', tick: true }, siliconAfterReboot: {} });
  const edges = [];
  board.ledListeners.add((on) => edges.push({ t: board.nowUs(), on }));
  const firstHost = board.host;
  // Within 3 s the code is on the LED (with a dead crystal a TIMER that does not tick would
  // leave every bounded wait spinning here instead).
  assert.equal(board.run(() => edges.filter((e) => e.on).length >= 3, 3e6), true,
    'LED fault code started');
  assert.equal(board.run(() => false, 20e6), 'rebooted', 'the fault loop ends in a reboot');
  assert.ok(!firstHost.enabled, 'the USB controller was never enabled on the first boot');
  // Rising edges at least 100 ms apart (boot stage 1 lights the LED for a few us first).
  const on = [];
  for (const e of edges) if (e.on && (on.length === 0 || e.t - on[on.length - 1] > 100e3)) on.push(e.t);
  const gaps = on.slice(1).map((t, i) => Math.round((t - on[i]) / 1000));
  // 3 pulses 600 ms apart, then 1.5 s dark: 600, 600, 2100, 600, 600, 2100, ...
  const tail = gaps.slice(1); // the first gap is from boot stage 1 to the second pulse
  assert.ok(tail.join(',').startsWith('600,2100,600,600,2100,600,600,2100'), `LED code 3: gaps ${gaps}`);
  board.enumerate(); // the crystal runs now
  const client = new UsbClient((bytes) => board.host.write(bytes), (pred, maxUs) => {
    const done = () => { client.feed(board.host.received.splice(0)); return pred(); };
    return board.run(done, maxUs) === true || done();
  });
  const h = proto.decodeHelloAck(client.request(proto.MSG.HELLO, proto.helloReq(60000)));
  assert.equal(h.resetCause, proto.RESET_CAUSE.FAULT);
  assert.equal(h.crash.kind, proto.FAULT_KIND.CLOCK, 'crash record: kind clock');
  assert.equal(h.crash.pc, proto.CLK_FAULT.XOSC | proto.CLK_FAULT.PLL_SYS | proto.CLK_FAULT.PLL_USB);
  assert.equal(h.clockFaults, 0, 'this boot\'s clocks are fine');
});
