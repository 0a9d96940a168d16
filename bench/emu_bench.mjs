// emu_bench.mjs - firmware benchmarks in emulated Cortex-M0+ cycles (rp2040js: deterministic,
// 125 MHz, 8 ns per cycle). Usage:
//   node bench/emu_bench.mjs BUILD/firmware/firmware-emu.elf
// needs the .bin next to the .elf and arm-none-eabi-nm on PATH. Prints a Markdown report.
import { readFileSync } from 'node:fs';
import { bootBoard, hello, settle } from '../tests/emu/lib/scenario.mjs';
import { MSG, u16le, u32le, decodeTaskStats } from '../tests/emu/lib/proto.mjs';
import { loadSymbols, loadLines, makeProfiler } from './lib/profile.mjs';

const elf = process.argv[2];
if (!elf) {
  console.error('usage: node bench/emu_bench.mjs path/to/firmware-emu.elf');
  process.exit(2);
}
const bin = elf.replace(/\.elf$/, '.bin');
// What the image was built with (NAME.info, firmware/hal/rp2040/CMakeLists.txt): whether the
// scheduler keeps its run statistics (config.h CONFIG_SCHED_RUN_STATS, on unless said).
let info = '';
try { info = readFileSync(elf.replace(/\.elf$/, '.info'), 'utf8'); } catch { /* none: defaults */ }
const runStats = !/CONFIG_SCHED_RUN_STATS=0/.test(info);

const sym = loadSymbols(elf);
const srcAt = loadLines(elf);

// Where cycles go (bench/lib/profile.mjs). A task body is the dynamic extent of a *_fn call:
// from its first instruction until the PC returns to the address in LR at entry (its callees
// included). The scheduler's share is everything else (loop, timer list, accounting, idle
// path, ISRs, the WFI exit) plus, inside a task body, the scheduler primitives a task calls
// (sched_*, hal_time_us) and any instruction compiled from sched.h or sched.c (inline waits),
// so no cost can hide in a function the benchmark forgot to list or in code the compiler
// inlined. The idle path is the dynamic extent of a call to idle(): the masked sleep decision,
// hal_idle_until (alarm, WFI), the clock read after waking and any ISR that runs when idle()
// unmasks. A switch that follows a sleep pays it; one between two ready tasks does not.
function profiled(board) {
  const prof = makeProfiler(board, sym, srcAt, { where: Number(process.env.PICOD_BENCH_WHERE || 3) });
  board.profiler = prof.hook;
  return prof;
}

const ledReq = (op, period, duty) => [op, duty, ...u16le(period), ...u32le(0), 0];
const out = [];

// ---- 1. timer-driven dispatch cost ------------------------------------------------------
{
  const { board, client } = bootBoard(bin, { sensors: false });
  settle(board, 100);
  hello(client, 60000);
  client.request(MSG.SET_LED, ledReq(3, 20, 50)); // LED task wakes every 10 ms
  board.run(100_000);
  const prof = profiled(board);
  board.run(1_000_000);
  board.profiler = null;
  const dispatches = [...prof.entries.values()].reduce((a, b) => a + b, 0);
  const top = [...prof.byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)
    .map(([n, c]) => `${n} ${c}`).join(', ');
  out.push('## Timer-driven task switch', '',
    `1 s of board time, LED blinking at 50 Hz (a timer wake every 10 ms), no host traffic.`,
    `- task dispatches: ${dispatches} (${[...prof.entries].map(([n, c]) => `${n} ${c}`).join(', ')})`,
    `- cycles outside task bodies (scheduler, idle path, ISRs) + scheduler calls made by tasks: ${prof.sched}`,
    `- cycles in task bodies: ${prof.body}`,
    `- of which the idle path (sleep decision, hal_idle_until, WFI exit): ${prof.idle}`,
    `- run statistics: ${runStats ? 'on (the product)' : 'off (CONFIG_SCHED_RUN_STATS=0)'}`,
    `- **dispatch cycles per task switch (scheduler minus idle path): ` +
    `${((prof.sched - prof.idle) / dispatches).toFixed(1)}** (goal <= 60, issue 9)`,
    `- all-in cycles per task switch (scheduler incl. idle path): ` +
    `${(prof.sched / dispatches).toFixed(1)}`,
    `- all executed cycles: ${prof.all} (CPU busy ${(prof.all / 125e6 * 100).toFixed(3)} %)`,
    `- hottest functions (cycles): ${top}`, '');
}

// ---- 2. ISR -> task latency (button edge -> button_fn entry) ----------------------------
{
  const { board, client } = bootBoard(bin, { sensors: false });
  settle(board, 100);
  hello(client, 60000);
  const prof = profiled(board);
  const lat = [];
  for (let i = 0; i < 40; i++) {
    board.run(37_000 + i * 1_311); // vary the phase against the other timers
    let t0 = board.totalCycles;
    let seen = -1;
    prof.onEntry = (n) => {
      if (n === 'button_fn' && seen < 0) seen = board.totalCycles - t0;
    };
    board.setButton(i % 2 === 0);
    board.runUntil(() => seen >= 0, { timeoutMs: 100, stepUs: 5 });
    lat.push(seen);
  }
  board.profiler = null;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  out.push('## ISR -> task event latency', '',
    'GPIO edge on GP15 -> IO_BANK0 ISR -> button_edge_cb sets the event -> first instruction of',
    `the button task; ${lat.length} edges at varied phases, CPU cycles executed in between (WFI`,
    'exit is immediate in the emulator):',
    `- min ${q(0)}, median ${q(0.5)}, p90 ${q(0.9)}, max ${lat[lat.length - 1]} cycles` +
    ` (max ${(lat[lat.length - 1] * 8 / 1000).toFixed(2)} us at 125 MHz; goal <= 250 cycles, issue 9)`, '');
}

// ---- 3. periodic lateness with all services active --------------------------------------
{
  const { board, client } = bootBoard(bin);
  settle(board, 300);
  hello(client, 60000);
  client.request(MSG.SET_POLL, [0xff, ...u32le(50)]);        // sensors every 50 ms
  client.request(MSG.SET_LED, ledReq(3, 100, 50));           // LED edge every 50 ms
  board.run(200_000);
  const t0 = board.timeUs();
  for (let ms = 0; ms < 5000; ms += 100) {                   // host heartbeat every 100 ms
    client.send(MSG.HEARTBEAT);
    if (ms % 300 === 0) board.press();                       // a click every 300 ms
    if (ms % 300 === 100) board.release();
    board.run(100_000);
  }
  const edges = board.ledEdges(t0);
  const lateness = [];
  // Each edge against the previous one plus the period: the task's wake-up lateness (a
  // deadline-based blink re-arms from its previous deadline, so errors would also accumulate).
  for (let i = 1; i < edges.length; i++) {
    lateness.push(Math.abs(edges[i].tUs - edges[i - 1].tUs - 50_000));
  }
  const buckets = [[0, 1], [1, 2], [2, 5], [5, 10], [10, 20], [20, 50], [50, Infinity]];
  const hist = buckets.map(([a, b]) =>
    `| ${a}-${b === Infinity ? '' : b} us | ${lateness.filter((x) => x >= a && x < b).length} |`);
  const stats = [];
  for (let i = 0; i < 8; i++) {
    try {
      stats.push(decodeTaskStats(client.request(MSG.GET_TASK_STATS, [i])));
    } catch {
      break;
    }
  }
  const maxLate = Math.max(...lateness), minLate = Math.min(...lateness);
  out.push('## Periodic lateness, all services active', '',
    '5 s: LED blinking (an edge every 50 ms; |interval - 50 ms| measured on GP25), all',
    'sensors polled every 50 ms (SENSOR_READING events), HEARTBEAT every 100 ms, a button click',
    `every 300 ms. ${lateness.length} edges; lateness min ${minLate.toFixed(2)} us, ` +
    `**max ${maxLate.toFixed(2)} us** (goal <= 50).`, '', '| lateness | edges |', '|---|---|',
    ...hist, '', 'The core\'s own per-task counters (GET_TASK_STATS) after the run:', '',
    '| task | runs | total us | max run us | max late us |', '|---|---|---|---|---|',
    ...stats.map((s) => `| ${s.name} | ${s.runs} | ${s.totalUs} | ${s.maxUs} | ${s.maxLateUs} |`),
    '');
}

// ---- 4. longest single run per task: a HELLO and a burst of host requests -------------------
// A task run is never preempted, so the longest run of any task bounds every other task's
// lateness. Cycles of each run's dynamic extent (its callees and any ISR inside it included).
{
  const { board, client } = bootBoard(bin);
  settle(board, 300);
  const prof = profiled(board);
  hello(client, 60000);
  client.request(MSG.SET_POLL, [0xff, ...u32le(50)]);
  const burst = [
    [MSG.PING, [1, 2, 3, 4]], [MSG.GET_STATE, []], [MSG.GET_STATS, []],
    [MSG.READ_SENSORS, [0xff]], [MSG.SET_LED, ledReq(3, 100, 50)], [MSG.I2C_SCAN, []],
    ...[0, 1, 2, 3, 4, 5].map((i) => [MSG.GET_TASK_STATS, [i]]),
    [MSG.HEARTBEAT, []], [MSG.PING, [5, 6]], [MSG.READ_SENSORS, [0xff]], [MSG.GET_STATE, []],
  ];
  const seqs = burst.map(([type, body]) => client.send(type, body)); // back to back
  board.runUntil(() => seqs.every((q) => client.responses.has(q)),
    { timeoutMs: 3000, what: 'the burst\'s answers' });
  board.press();
  board.run(100_000);
  board.release();
  board.run(500_000); // sensor polls, a button click, events
  board.profiler = null;
  const rows = [...prof.maxRun.entries()].sort((a, b) => b[1].cycles - a[1].cycles)
    .map(([n, r]) => `| ${n} | ${prof.entries.get(n)} | ${r.cycles} | ` +
      `${(r.cycles * 8 / 1000).toFixed(1)} | ${r.top} |`);
  const worst = Math.max(...[...prof.maxRun.values()].map((r) => r.cycles));
  out.push('## Longest single task run: HELLO and a burst of host requests', '',
    `HELLO, SET_POLL (all sensors, 50 ms), then ${burst.length} requests sent back to back`,
    '(PING, GET_STATE, GET_STATS, READ_SENSORS x2, SET_LED, I2C_SCAN, GET_TASK_STATS x6,',
    'HEARTBEAT), then 0.6 s of sensor polling and a button click. A run is one call of a',
    'task function (callees and ISRs inside it included).', '',
    '| task function | runs | longest run, cycles | us | where (cycles) |', '|---|---|---|---|---|',
    ...rows, '',
    `**Longest run: ${(worst * 8 / 1000).toFixed(1)} us** (goal: every run <= 50 us).`, '');
}

// ---- 5. memory ---------------------------------------------------------------------------
const size = readFileSync(elf.replace(/\.elf$/, '.size.txt'), 'utf8');
out.push('## Memory (from the ELF)', '', '```', ...size.split('\n').slice(0, 6), '```', '');
console.log(out.join('\n'));
