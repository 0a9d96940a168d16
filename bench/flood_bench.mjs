#!/usr/bin/env node
// flood_bench.mjs - the product image (USB CDC link) under a flood of host data at full USB
// speed: every task's longest run and the LED blink's lateness meanwhile (docs/PERFORMANCE.md,
// "Fairness under load"). Deterministic: emulated time and cycles (rp2040js, 125 MHz).
//
//   node bench/flood_bench.mjs BUILD/firmware/firmware.elf [--ms 300] [--json]
//
// The host is tests/emu/usb/lib/usbhost.mjs (it plays Linux's enumeration, NAKs when it has
// nothing to send) with full-speed wire timing: every bulk packet takes 52.6 us, i.e. 19
// 64-byte packets per 1 ms frame, the most a full-speed bus carries (1.2 MB/s). Its OUT queue
// is kept full, so the board is offered data at that rate for the whole phase:
//   valid   - well-formed requests back to back: PING with bodies of 0..244 bytes (the largest
//             frame there is), HEARTBEAT, GET_STATE, GET_STATS, GET_TASK_STATS, HELLO, and
//             retransmissions (duplicate seqs, answered from the exactly-once window);
//   garbage - random bytes with a delimiter now and then (CRC/COBS errors), 600-byte runs
//             without a delimiter (oversize), runs of 0x00 (empty frames), and 250-byte frames
//             with a wrong CRC (the most expensive frame to reject);
//   mixed   - both, interleaved.
// Meanwhile the LED blinks (SET_LED BLINK 20 ms: an edge every 10 ms). Reported per phase:
// the longest run of each task (cycles of its dynamic extent, ISRs inside it included), the
// LED's worst |edge interval - 10 ms|, the bytes the board took, and the answers it sent;
// after the phases, the board's own GET_TASK_STATS (max run, max lateness per task).
import { createMcu, nowUs } from '../tests/emu/usb/lib/emu.mjs';
import { UsbHost } from '../tests/emu/usb/lib/usbhost.mjs';
import { wfiExit } from '../tests/emu/lib/silicon.mjs';
import { MSG, ACK, encodeFrame, FrameDecoder, helloReq, u16le, u32le, decodeTaskStats, crc16, cobsEncode }
  from '../tests/emu/lib/proto.mjs';
import { loadSymbols, loadLines, makeProfiler } from './lib/profile.mjs';

const args = process.argv.slice(2);
const elf = args.find((a) => !a.startsWith('--') && /\.elf$/.test(a));
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
if (!elf) {
  process.stderr.write('usage: flood_bench.mjs path/to/firmware.elf [--ms N] [--json]\n');
  process.exit(2);
}
const PHASE_MS = Number(opt('--ms', 300));
const WIRE_US = 52.6;
const CYCLE_NS = 8;
const BLINK_MS = 20;
const us = (cycles) => +(cycles * CYCLE_NS / 1000).toFixed(1);

// ---- a board: the MCU, the host, a run loop with a per-instruction hook ------------------
const mcu = createMcu(elf);
mcu.dbufModel.takeSingle = true;  // the wire timing for single- and double-buffered endpoints
mcu.dbufModel.packetUs = WIRE_US;
mcu.usbCtrl.readDelayMicroseconds = WIRE_US;
const host = new UsbHost(mcu);
const board = { mcu, totalCycles: 0, timeUs: () => nowUs(mcu), hook: null };
const led = [];
mcu.gpio[25].addListener((state) => led.push({ tUs: nowUs(mcu), on: state === 1 }));

function run(us) {
  const { core, clock } = mcu;
  const end = clock.nanos + us * 1000;
  while (clock.nanos < end) {
    if (core.waiting) {
      if (wfiExit(mcu)) continue;
      const toNext = clock.nanosToNextAlarm;
      clock.tick(Math.min(toNext > 0 ? toNext : 1000, end - clock.nanos));
      continue;
    }
    const pc = core.PC;
    const c = core.executeInstruction();
    board.totalCycles += c;
    if (board.hook) board.hook(pc, c);
    clock.tick(c * CYCLE_NS);
  }
}

// ---- the host's protocol side ---------------------------------------------------------------
const dec = new FrameDecoder();
let seq = 1;
const answers = new Map(); // seq -> frame
let answered = 0, errorsAnswered = 0;
function drain() {
  for (const b of host.received.splice(0)) {
    const f = dec.push(b);
    if (!f || f.error) continue;
    if (f.type < 0x40 || f.type > 0x7f) {
      answers.set(f.seq, f);
      answered++;
      if (f.type === MSG.ERROR) errorsAnswered++;
    }
  }
}
function frame(type, body = [], s = seq++) {
  seq &= 0xffff;
  return [0, ...encodeFrame(type, s, body)];
}
function request(type, body = []) {
  const s = seq;
  host.write(frame(type, body));
  const end = nowUs(mcu) + 500_000;
  while (!answers.has(s)) {
    if (nowUs(mcu) > end) throw new Error(`no answer to request 0x${type.toString(16)}`);
    run(200);
    drain();
  }
  const f = answers.get(s);
  answers.delete(s);
  if (f.type !== ACK(type)) throw new Error(`request 0x${type.toString(16)} got 0x${f.type.toString(16)}`);
  return f.body;
}

// A deterministic PRNG (xorshift32): the same flood every run.
let rs = 0x2545f491;
const rnd = (n) => {
  rs ^= rs << 13; rs >>>= 0; rs ^= rs >>> 17; rs ^= rs << 5; rs >>>= 0;
  return rs % n;
};

const VALID = [
  () => frame(MSG.PING, Array.from({ length: rnd(245) }, () => rnd(256))),
  () => frame(MSG.PING, Array.from({ length: 244 }, (_, i) => (i * 7 + 1) & 0xff)),
  () => frame(MSG.HEARTBEAT),
  () => frame(MSG.GET_STATE),
  () => frame(MSG.GET_STATS),
  () => frame(MSG.GET_TASK_STATS, [rnd(6)]),
  () => frame(MSG.HELLO, helloReq(60000)),
  () => { // a retransmission: the same seq and bytes twice (answered from the window)
    const f = frame(MSG.GET_STATE);
    return [...f, ...f];
  },
];
function badCrcFrame() {
  const pkt = [0x10, MSG.PING, rnd(256), rnd(256), ...Array.from({ length: 244 }, () => 1 + rnd(255))];
  const crc = crc16(pkt) ^ 0x5a5a;
  pkt.push(crc & 0xff, crc >> 8);
  return [0, ...cobsEncode(Uint8Array.from(pkt)), 0];
}
const GARBAGE = [
  () => Array.from({ length: 64 }, () => (rnd(64) === 0 ? 0 : rnd(256))),
  () => Array.from({ length: 600 }, () => 1 + rnd(255)), // no delimiter: oversize
  () => new Array(64).fill(0),                           // empty frames
  () => badCrcFrame(),
];
const makers = { valid: VALID, garbage: GARBAGE, mixed: [...VALID, ...GARBAGE] };

// ---- phases ----------------------------------------------------------------------------------
const sym = loadSymbols(elf);
const prof = makeProfiler(board, sym, loadLines(elf), { where: Number(process.env.PICOD_BENCH_WHERE || 4) });

// (The hook stays installed throughout: a run open when it was removed would count every
// cycle until its end.)
board.hook = prof.hook;
host.enumerateLikeLinux();
host.settle();
request(MSG.HELLO, helloReq(60000));
request(MSG.SET_LED, [3, 50, ...u16le(BLINK_MS), ...u32le(0), 0]);
run(50_000);
drain();

const results = {};
for (const kind of ['valid', 'garbage', 'mixed']) {
  prof.maxRun.clear();
  prof.maxOwn.clear();
  prof.entries.clear();
  const t0 = nowUs(mcu);
  const ans0 = answered;
  let offered = 0;
  const taken0 = host.outQueue.length;
  while (nowUs(mcu) - t0 < PHASE_MS * 1000) {
    while (host.outQueue.length < 1024) {
      const m = makers[kind];
      const bytes = m[rnd(m.length)]();
      offered += bytes.length;
      host.write(bytes);
    }
    run(100);
    drain();
  }
  const taken = offered + taken0 - host.outQueue.length;
  const t1 = nowUs(mcu);
  const edges = led.filter((e) => e.tUs >= t0 && e.tUs < t1);
  let late = 0;
  for (let i = 1; i < edges.length; i++) {
    late = Math.max(late, Math.abs(edges[i].tUs - edges[i - 1].tUs - (BLINK_MS / 2) * 1000));
  }
  results[kind] = {
    takenBytes: taken, kBps: +(taken / (t1 - t0) * 1000).toFixed(1), answers: answered - ans0,
    ledEdges: edges.length, ledLateUs: +late.toFixed(2),
    runs: Object.fromEntries([...prof.maxRun.entries()].sort((a, b) => b[1].cycles - a[1].cycles)
      .map(([n, r]) => {
        const o = prof.maxOwn.get(n);
        return [n, { runs: prof.entries.get(n), cycles: r.cycles, us: us(r.cycles), isrUs: us(r.isr),
          ownCycles: o.cycles, ownUs: us(o.cycles), top: r.top, ownTop: o.top }];
      })),
  };
  // let the board catch up before the next phase: the host stops sending
  host.outQueue.length = 0;
  run(50_000);
  drain();
}

// The board's own view: GET_TASK_STATS after the flood.
const own = [];
for (let i = 0; i < 8; i++) {
  const s = decodeTaskStats(request(MSG.GET_TASK_STATS, [i]));
  own.push(s);
  if (s.name === 'idle') break;
}

if (args.includes('--json')) {
  console.log(JSON.stringify({ results, own }, null, 2));
  process.exit(0);
}
const out = ['## Fairness under load: the product image flooded at full USB speed', '',
  `${PHASE_MS} ms per phase, host OUT queue kept full, ${WIRE_US} us per 64-byte packet ` +
  `(19 per 1 ms frame); LED blinking meanwhile (an edge every ${BLINK_MS / 2} ms).`, ''];
for (const [kind, r] of Object.entries(results)) {
  out.push(`### ${kind}: board took ${r.takenBytes} bytes (${r.kBps} kB/s), sent ${r.answers} answers; ` +
    `LED ${r.ledEdges} edges, worst lateness **${r.ledLateUs} us**`, '',
    '| task function | runs | longest run, us (of which ISRs) | longest without ISRs, us | where, that run (cycles) |',
    '|---|---|---|---|---|',
    ...Object.entries(r.runs).map(([n, x]) =>
      `| ${n} | ${x.runs} | ${x.us} (${x.isrUs}) | **${x.ownUs}** | ${x.ownTop} |`), '');
}
out.push('The board\'s own counters after the three phases (GET_TASK_STATS):', '',
  '| task | runs | max run us | max late us |', '|---|---|---|---|',
  ...own.filter((s) => s.name !== 'idle').map((s) => `| ${s.name} | ${s.runs} | ${s.maxUs} | ${s.maxLateUs} |`), '');
const worst = Math.max(...Object.values(results).flatMap((r) => Object.values(r.runs).map((x) => x.us)));
const worstOwn = Math.max(...Object.values(results).flatMap((r) => Object.values(r.runs).map((x) => x.ownUs)));
out.push(`**Longest run in any phase: ${worstOwn} us of the task's own work** (goal <= 50 us); ` +
  `${worst} us counting the USB interrupts that landed in it.`);
console.log(out.join('\n'));
