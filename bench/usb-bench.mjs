#!/usr/bin/env node
// usb-bench.mjs - USB CDC benchmarks in emulated time (rp2040js; deterministic: the same
// firmware and inputs give the same numbers on any machine).
//
//   node bench/usb-bench.mjs --testfw BUILD/tests/emu/usb/usbtest.elf
//        [--testfw BUILD/tests/emu/usb/usbtest-dbuf.elf] [--product BUILD/firmware/firmware.elf] [--json]
//
// testfw (tests/emu/usb/fw; give it more than once to compare builds, e.g. double- and
// single-buffered): device->host and host->device throughput of the stack alone, the OUT
// packets that found no buffer armed (a NAK and retry each on a real bus), and the 64-byte
// echo round trip. product: PING request/response round trip through the whole firmware
// (USB + proto + core scheduler), with a 64-byte frame each way.
//
// Double-buffered endpoints run on tests/emu/usb/lib/dbuf-model.mjs, where an IN packet
// completes 10 us after it is armed (the host's transaction); rp2040js's own single-buffer
// path reports IN completion the moment the buffer is armed. OUT is 10 us per packet in both.
//
// What the emulator does and does not measure: rp2040js completes an IN packet the moment it
// is armed and an OUT packet 10 us after, with no frames, no NAK retries and no host
// scheduling; so these numbers are the firmware's CPU cost per packet (the ceiling it puts on
// the link), not the USB wire rate. See docs/USB.md for the real-hardware goals.
import { createMcu, nowUs } from '../tests/emu/usb/lib/emu.mjs';
import { UsbHost } from '../tests/emu/usb/lib/usbhost.mjs';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
const testfws = args.flatMap((a, i) => (a === '--testfw' ? [args[i + 1]] : []));
const testfw = testfws[0];
const product = opt('--product');
const asJson = args.includes('--json');
// --wire-us X: every bulk/interrupt packet takes X us on the wire, single- and double-buffered
// endpoints alike (the model takes both over); 52.6 = 19 packets per 1 ms frame, the most
// full speed carries. Without it: rp2040js's timing (see above).
const wireUs = opt('--wire-us') ? Number(opt('--wire-us')) : null;
if (!testfw) {
  process.stderr.write('usage: usb-bench.mjs --testfw usbtest.elf [--product firmware.elf] [--json]\n');
  process.exit(2);
}
const u32 = (n) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const results = {};

function boot(fw) {
  const mcu = createMcu(fw);
  if (wireUs) {
    mcu.dbufModel.takeSingle = true;
    mcu.dbufModel.packetUs = wireUs;
    mcu.usbCtrl.readDelayMicroseconds = wireUs;
  }
  const host = new UsbHost(mcu);
  host.enumerateLikeLinux();
  host.settle();
  return { mcu, host };
}

// 'double' or 'single': how the configured firmware set up its bulk OUT endpoint (EP2).
function buffering(mcu) {
  return mcu.usbDPRAMView.getUint32(0x14, true) & (1 << 30) ? 'double' : 'single';
}

function deviceToHost(testfw, n) {
  const { mcu, host } = boot(testfw);
  const t0 = nowUs(mcu);
  host.write(['s'.charCodeAt(0), ...u32(n)]);
  if (!host.run(() => host.received.length >= n, 60e6)) throw new Error('d2h: stream incomplete');
  const us = nowUs(mcu) - t0;
  return { bytes: n, us, kBps: n / us * 1e3, cyclesPerPacket: (us * 125) / Math.ceil(n / 64) };
}

function hostToDevice(testfw, n) {
  const { mcu, host } = boot(testfw);
  const t0 = nowUs(mcu);
  const naks0 = host.outNaks;
  host.write(['k'.charCodeAt(0), ...u32(n), ...new Uint8Array(n).fill(0xa5)]);
  if (!host.run(() => host.received.length >= 1, 60e6)) throw new Error('h2d: no ack');
  const us = nowUs(mcu) - t0;
  const packets = Math.ceil((n + 5) / 64);
  return { bytes: n, us, kBps: n / us * 1e3, packets, naks: host.outNaks - naks0 };
}

function echoRoundTrip(testfw, iterations) {
  const { mcu, host } = boot(testfw);
  host.write(['e'.charCodeAt(0), ...u32(64 * iterations)]);
  host.settle();
  const rtt = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = nowUs(mcu);
    host.write(Array.from({ length: 64 }, (_, k) => (i + k) & 0xff));
    if (!host.run(() => host.received.length >= 64, 1e6)) throw new Error('echo: no answer');
    rtt.push(nowUs(mcu) - t0);
    host.take(64);
  }
  return { iterations, medianUs: pct(rtt, 0.5), p90Us: pct(rtt, 0.9), maxUs: Math.max(...rtt) };
}

async function pingRoundTrip(iterations) {
  const proto = await import('../tests/emu/lib/proto.mjs');
  const { mcu, host } = boot(product);
  const dec = new proto.FrameDecoder();
  const frames = [];
  const pump = () => { for (const b of host.take(host.received.length)) { const f = dec.push(b); if (f && !f.error) frames.push(f); } };
  const request = (type, seq, body) => {
    frames.length = 0;
    const t0 = nowUs(mcu);
    host.write(proto.encodeFrame(type, seq, body));
    const ok = host.run(() => { pump(); return frames.some((f) => f.type === proto.ACK(type) && f.seq === seq); }, 2e6);
    if (!ok) throw new Error(`no answer to request 0x${type.toString(16)}`);
    return nowUs(mcu) - t0;
  };
  request(proto.MSG.HELLO, 1, proto.helloReq(0));
  const body = Array.from({ length: 54 }, (_, i) => (i * 3 + 1) & 0xff); // non-zero: no COBS growth
  const wire = proto.encodeFrame(proto.MSG.PING, 2, body).length;
  const rtt = [];
  for (let i = 0; i < iterations; i++) rtt.push(request(proto.MSG.PING, 2 + i, body));
  return { iterations, frameBytes: wire, medianUs: pct(rtt, 0.5), p90Us: pct(rtt, 0.9), maxUs: Math.max(...rtt) };
}

results.testfw = testfws.map((fw) => ({
  firmware: fw,
  buffering: buffering(boot(fw).mcu),
  deviceToHost: deviceToHost(fw, 256 * 1024),
  hostToDevice: hostToDevice(fw, 256 * 1024),
  echo64: echoRoundTrip(fw, 200),
}));
if (product) {
  results.productBuffering = buffering(boot(product).mcu);
  results.ping64 = await pingRoundTrip(200);
}

if (asJson) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const f = (x) => x.toFixed(1);
  const r = results;
  console.log(`USB CDC in rp2040js (emulated time, 125 MHz; ${wireUs ? `${wireUs} us per packet on the wire` : 'rp2040js timing'})`);
  for (const t of r.testfw) {
    console.log(`${t.firmware} (bulk endpoints ${t.buffering}-buffered)`);
    console.log(`  device->host  ${t.deviceToHost.bytes} B in ${f(t.deviceToHost.us)} us = ${f(t.deviceToHost.kBps)} kB/s (${f(t.deviceToHost.cyclesPerPacket)} cycles per 64-byte packet)`);
    console.log(`  host->device  ${t.hostToDevice.bytes} B in ${f(t.hostToDevice.us)} us = ${f(t.hostToDevice.kBps)} kB/s; ${t.hostToDevice.naks} of ${t.hostToDevice.packets} OUT packets found no buffer armed`);
    console.log(`  echo 64 B     median ${f(t.echo64.medianUs)} us, p90 ${f(t.echo64.p90Us)} us, max ${f(t.echo64.maxUs)} us (${t.echo64.iterations} round trips)`);
  }
  if (r.ping64) {
    console.log(`${product} (bulk endpoints ${r.productBuffering}-buffered)`);
    console.log(`  PING ${r.ping64.frameBytes} B frames  median ${f(r.ping64.medianUs)} us, p90 ${f(r.ping64.p90Us)} us, max ${f(r.ping64.maxUs)} us (${r.ping64.iterations} round trips)`);
  }
}
