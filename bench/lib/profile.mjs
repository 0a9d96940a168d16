// profile.mjs - per-instruction attribution of emulated cycles for the firmware benchmarks:
// which function (ELF symbols), which source file (DWARF line table), and the dynamic extent
// of every task run (a *_fn call, from its first instruction until the PC returns to the LR it
// was entered with: callees and ISRs inside it included). Shared by emu_bench.mjs (UART image,
// tests/emu/lib/board.mjs) and flood_bench.mjs (USB product image, tests/emu/usb/lib).
import { execFileSync } from 'node:child_process';

// Function symbols of elf, sorted, with a PC -> symbol lookup and the set of entry points.
export function loadSymbols(elf) {
  const syms = execFileSync('arm-none-eabi-nm', ['-S', '--defined-only', elf], { encoding: 'utf8' })
    .split('\n').map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && /[tTwW]/.test(f[2]))
    .map(([a, sz, , name]) => ({ start: parseInt(a, 16) & ~1, size: parseInt(sz, 16), name }))
    .sort((x, y) => x.start - y.start);
  const symAt = (pc) => {
    let lo = 0, hi = syms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = syms[mid];
      if (pc < s.start) hi = mid - 1;
      else if (pc >= s.start + s.size) lo = mid + 1;
      else return s;
    }
    return null;
  };
  const starts = new Map(syms.map((s) => [s.start, s.name]));
  return { syms, symAt, starts, addr: (name) => syms.find((s) => s.name === name)?.start ?? -1 };
}

// PC -> source file name (DWARF line table), so that scheduler code inlined into a task
// (sched.h's inline waits) is still counted as the scheduler's.
export function loadLines(elf) {
  const rows = [];
  const dump = execFileSync('arm-none-eabi-objdump', ['--dwarf=decodedline', elf],
    { encoding: 'utf8', maxBuffer: 256 << 20 });
  for (const l of dump.split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f.length >= 3 && /^0x[0-9a-f]+$/.test(f[2])) {
      rows.push({ addr: parseInt(f[2], 16), file: f[1] === '-' ? null : f[0] });
    }
  }
  rows.sort((a, b) => a.addr - b.addr); // stable: the last row at an address wins below
  return (pc) => {
    let lo = 0, hi = rows.length - 1, best = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid].addr <= pc) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return best === null ? null : rows[best].file;
  };
}

const TASK = /_fn$/;
// Scheduler primitives a task calls, and any instruction compiled from sched.h/sched.c.
const SCHED_PRIM = /^(sched_|hal_time_us$|__.*_veneer$)/;
const SCHED_SRC = /^sched\.[ch]$/;

// A profiler for an object with .totalCycles (cycles executed, the current instruction's
// included when the hook runs), .timeUs() and .mcu (rp2040js). Install the returned function as the per-instruction hook:
// hook(pc, cycles) after the instruction at pc took cycles. prof.maxRun: task -> longest run
// { cycles, isr, atUs, top } (isr: cycles of interrupt handlers inside it); prof.maxOwn: the
// same for the longest run not counting those handlers; prof.sched / .body / .idle: cycles in the scheduler, task bodies and
// the idle path (the dynamic extent of idle()). prof.onEntry(name) is called at a run's start.
export function makeProfiler(board, sym, srcAt, { where = 3 } = {}) {
  const prof = { byName: new Map(), entries: new Map(), sched: 0, body: 0, idle: 0, all: 0,
    idleCalls: 0, maxRun: new Map(), maxOwn: new Map(), onEntry: null, onRun: null };
  let ret = -1; // return address of the task body being executed, -1 outside any
  let runStart = 0, runName = '', runIsr = 0;
  const runFns = new Map();
  let idleRet = -1;
  const idleStart = sym.addr('idle');
  prof.hook = (pc, cycles) => {
    const s = sym.symAt(pc);
    const name = s ? s.name : '?';
    prof.all += cycles;
    prof.byName.set(name, (prof.byName.get(name) || 0) + cycles);
    if (ret >= 0 && pc === ret) {
      ret = -1;
      const dur = board.totalCycles - runStart; // this instruction's cycles not yet added
      if (prof.onRun) prof.onRun(runName, dur);
      const top = () => [...runFns.entries()].sort((x, y) => y[1] - x[1]).slice(0, where)
        .map(([f, c]) => `${f} ${c}`).join(', ');
      if (dur > (prof.maxRun.get(runName)?.cycles ?? -1)) {
        prof.maxRun.set(runName, { cycles: dur, isr: runIsr, atUs: board.timeUs(), top: top() });
      }
      // The task's own work: the run without the interrupt handlers that landed in it (they
      // delay every task alike, run or no run).
      if (dur - runIsr > (prof.maxOwn.get(runName)?.cycles ?? -1)) {
        prof.maxOwn.set(runName, { cycles: dur - runIsr, isr: runIsr, atUs: board.timeUs(), top: top() });
      }
    }
    if (idleRet >= 0 && pc === idleRet) idleRet = -1;
    // rp2040js takes a pending exception at the start of executeInstruction(): the hook then
    // sees the interrupted PC, but the instruction that ran was the handler's first, and LR
    // holds EXC_RETURN. Such a "call" is not one: the real one follows the handler's return.
    const lr = board.mcu.core.registers[14] >>> 0;
    const excReturn = lr >= 0xfffffff0;
    if (ret < 0 && !excReturn && sym.starts.has(pc) && TASK.test(sym.starts.get(pc))) {
      const n = sym.starts.get(pc);
      ret = lr & ~1;
      runStart = board.totalCycles - cycles;
      runName = n;
      runIsr = 0;
      runFns.clear();
      prof.entries.set(n, (prof.entries.get(n) || 0) + 1);
      if (prof.onEntry) prof.onEntry(n);
    }
    if (ret < 0 && idleRet < 0 && !excReturn && pc === idleStart) {
      idleRet = lr & ~1;
      prof.idleCalls++;
    }
    if (ret >= 0) {
      runFns.set(name, (runFns.get(name) || 0) + cycles);
      if (board.mcu.core.IPSR !== 0) runIsr += cycles; // in an exception handler
    }
    if (ret >= 0 && !SCHED_PRIM.test(name) && !SCHED_SRC.test((srcAt && srcAt(pc)) || '')) {
      prof.body += cycles;
    } else {
      prof.sched += cycles;
      if (idleRet >= 0) prof.idle += cycles;
    }
  };
  return prof;
}
