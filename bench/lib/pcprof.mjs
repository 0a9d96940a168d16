// pcprof.mjs - per-instruction breakdown of the timer-driven switch (emu_bench.mjs section 1):
// cycles per PC booked as dispatch (scheduler, not idle path) divided by the number of task
// dispatches, with the disassembly line. A tool for tuning sched.c, not a benchmark:
//   node bench/lib/pcprof.mjs build/firmware/firmware-emu.elf [isr]
// "isr" profiles emu_bench's section 2 instead: every cycle from the GPIO edge to button_fn.
import { execFileSync } from 'node:child_process';
import { bootBoard, hello, settle } from '../../tests/emu/lib/scenario.mjs';
import { MSG, u16le, u32le } from '../../tests/emu/lib/proto.mjs';
import { loadSymbols, loadLines, makeProfiler } from './profile.mjs';

const elf = process.argv[2];
const mode = process.argv[3] || 'timer';
const bin = elf.replace(/\.elf$/, '.bin');
const sym = loadSymbols(elf);
const srcAt = loadLines(elf);
const dis = new Map();
for (const l of execFileSync('arm-none-eabi-objdump', ['-d', '--no-show-raw-insn', elf],
  { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n')) {
  const m = /^\s*([0-9a-f]+):\s+(.*)$/.exec(l);
  if (m) dis.set(parseInt(m[1], 16), m[2]);
}
const perPc = new Map();
const { board, client } = bootBoard(bin, { sensors: false });
settle(board, 100);
hello(client, 60000);
let n = 0;
if (mode === 'timer') {
  client.request(MSG.SET_LED, [3, 50, ...u16le(20), ...u32le(0), 0]);
  board.run(100_000);
  const prof = makeProfiler(board, sym, srcAt);
  let lastSched = 0, lastIdle = 0;
  board.profiler = (pc, c) => {
    prof.hook(pc, c);
    const ds = prof.sched - lastSched, di = prof.idle - lastIdle;
    lastSched = prof.sched; lastIdle = prof.idle;
    if (ds - di > 0) perPc.set(pc, (perPc.get(pc) || 0) + ds - di);
  };
  board.run(1_000_000);
  board.profiler = null;
  n = [...prof.entries.values()].reduce((a, b) => a + b, 0);
} else {
  const prof = makeProfiler(board, sym, srcAt);
  let t0 = -1;
  board.profiler = (pc, c) => {
    prof.hook(pc, c);
    if (t0 >= 0) perPc.set(pc, (perPc.get(pc) || 0) + c);
  };
  for (let i = 0; i < 40; i++) {
    board.run(37_000 + i * 1_311);
    let seen = false;
    t0 = board.totalCycles;
    prof.onEntry = (name) => { if (name === 'button_fn') { seen = true; t0 = -1; } };
    board.setButton(i % 2 === 0);
    board.runUntil(() => seen, { timeoutMs: 100, stepUs: 5 });
    n++;
  }
  board.profiler = null;
}
let tot = 0;
const rows = [...perPc.entries()].sort((a, b) => a[0] - b[0]);
let lastFn = '';
for (const [pc, c] of rows) {
  const s = sym.symAt(pc);
  const fn = s ? s.name : '?';
  if (fn !== lastFn) { console.log(`-- ${fn}`); lastFn = fn; }
  tot += c;
  console.log(`${(c / n).toFixed(2).padStart(7)}  ${pc.toString(16)}  ${dis.get(pc) || ''}`);
}
console.log(`total ${(tot / n).toFixed(1)} cycles per ${mode === 'timer' ? 'switch' : 'edge'} (${n})`);
