#!/usr/bin/env node
// usb-bench.mjs - USB CDC benchmarks in emulated time (rp2040js; deterministic: the same
// firmware and inputs give the same numbers on any machine).
//
//   node bench/usb-bench.mjs --testfw BUILD/tests/emu/usb/usbtest.elf [--product BUILD/firmware/firmware.elf] [--json]
//
// testfw (tests/emu/usb/fw): device->host and host->device throughput of the stack alone,
// and the 64-byte echo round trip. product: PING request/response round trip through the
// whole firmware (USB + proto + core scheduler), with a 64-byte frame each way.
//
// What the emulator does and does not measure: rp2040js completes an IN packet the moment it
// is armed and an OUT packet 10 us after, with no frames, no NAK retries and no host
// scheduling; so these numbers are the firmware's CPU cost per packet (the ceiling it puts on
// the link), not the USB wire rate. See docs/USB.md for the real-hardware goals.
import { createMcu, nowUs } from '../tests/emu/usb/lib/emu.mjs';
import { UsbHost } from '../tests/emu/usb/lib/usbhost.mjs';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
const testfw = opt('--testfw');
const product = opt('--product');
const asJson = args.includes('--json');
if (!testfw) {
  process.stderr.write('usage: usb-bench.mjs --testfw usbtest.elf [--product firmware.elf] [--json]\n');
  process.exit(2);
}
const u32 = (n) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const results = {};

function boot(fw) {
  const mcu = createMcu(fw);
  const host = new UsbHost(mcu);
  host.enumerateLikeLinux();
  host.settle();
  return { mcu, host };
}

function deviceToHost(n) {
  const { mcu, host } = boot(testfw);
  const t0 = nowUs(mcu);
  host.write(['s'.charCodeAt(0), ...u32(n)]);
  if (!host.run(() => host.received.length >= n, 60e6)) throw new Error('d2h: stream incomplete');
  const us = nowUs(mcu) - t0;
  return { bytes: n, us, kBps: n / us * 1e3, cyclesPerPacket: (us * 125) / Math.ceil(n / 64) };
}

function hostToDevice(n) {
  const { mcu, host } = boot(testfw);
  const t0 = nowUs(mcu);
  host.write(['k'.charCodeAt(0), ...u32(n), ...new Uint8Array(n).fill(0xa5)]);
  if (!host.run(() => host.received.length >= 1, 60e6)) throw new Error('h2d: no ack');
  const us = nowUs(mcu) - t0;
  return { bytes: n, us, kBps: n / us * 1e3 };
}

function echoRoundTrip(iterations) {
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

results.deviceToHost = deviceToHost(256 * 1024);
results.hostToDevice = hostToDevice(256 * 1024);
results.echo64 = echoRoundTrip(200);
if (product) results.ping64 = await pingRoundTrip(200);

if (asJson) {
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else {
  const f = (x) => x.toFixed(1);
  const r = results;
  console.log('USB CDC in rp2040js (emulated time, 125 MHz)');
  console.log(`  device->host  ${r.deviceToHost.bytes} B in ${f(r.deviceToHost.us)} us = ${f(r.deviceToHost.kBps)} kB/s (${f(r.deviceToHost.cyclesPerPacket)} cycles per 64-byte packet)`);
  console.log(`  host->device  ${r.hostToDevice.bytes} B in ${f(r.hostToDevice.us)} us = ${f(r.hostToDevice.kBps)} kB/s`);
  console.log(`  echo 64 B     median ${f(r.echo64.medianUs)} us, p90 ${f(r.echo64.p90Us)} us, max ${f(r.echo64.maxUs)} us (${r.echo64.iterations} round trips)`);
  if (r.ping64) {
    console.log(`  PING ${r.ping64.frameBytes} B frames  median ${f(r.ping64.medianUs)} us, p90 ${f(r.ping64.p90Us)} us, max ${f(r.ping64.maxUs)} us (${r.ping64.iterations} round trips)`);
  }
}
