// temporary: where the ISR->task cycles go
import { execFileSync } from 'node:child_process';
import { bootBoard, hello, settle } from '../tests/emu/lib/scenario.mjs';
const elf = process.argv[2];
const bin = elf.replace(/\.elf$/, '.bin');
const syms = execFileSync('arm-none-eabi-nm', ['-S', '--defined-only', elf], { encoding: 'utf8' })
  .split('\n').map((l) => l.trim().split(/\s+/))
  .filter((f) => f.length === 4 && /[tTwW]/.test(f[2]))
  .map(([a, sz, , name]) => ({ start: parseInt(a, 16) & ~1, size: parseInt(sz, 16), name }))
  .sort((x, y) => x.start - y.start);
function symAt(pc) { for (const s of syms) if (pc >= s.start && pc < s.start + s.size) return s.name; return '?'; }
const { board, client } = bootBoard(bin, { sensors: false });
settle(board, 100);
hello(client, 60000);
board.run(37_000);
const fns = new Map(); const pcs = new Map();
let rec = false, done = false;
const btn = syms.find((s) => s.name === 'button_fn').start;
board.profiler = (pc, cyc) => {
  if (pc === btn) done = true;
  if (rec && !done) { const n = symAt(pc); fns.set(n, (fns.get(n) || 0) + cyc); if (process.env.PCS) pcs.set(pc, (pcs.get(pc)||0)+cyc); }
};
rec = true;
board.setButton(true);
board.runUntil(() => done, { timeoutMs: 100, stepUs: 5 });
let tot = 0; for (const v of fns.values()) tot += v;
console.log('total', tot);
for (const [n, c] of [...fns].sort((a, b) => b[1] - a[1])) console.log(n, c);
if (process.env.PCS) for (const [p, c] of [...pcs].sort((a,b)=>a[0]-b[0])) console.log(p.toString(16), c);
