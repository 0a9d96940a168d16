// Silicon-only faults (issue 9), shown in the emulator with tests/emu/lib/silicon.mjs's models
// of what rp2040js lacks: the crystal's start-up, a dead crystal, a TIMER that only counts
// while the watchdog tick runs, FC0, CHIP_RESET, PSM_WDSEL, and the bootrom's reboot after a
// UF2 copy (rom/fakerom.S + EmuBoard.bootromReboot).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const rom = process.env.PICOD_FAKEROM;
if (!rom || !existsSync(rom)) {
  console.error(`error: PICOD_FAKEROM must name the fake bootrom (got '${rom}'): build tests/emu`);
  process.exit(1);
}
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { RESET_CAUSE, CLK_FAULT, FAULT_KIND, MSG, DEBUG_OP, debugReq, decodeStats, decodeTaskStats } =
  await import('./lib/proto.mjs');
const { elfSymbols } = await import('./lib/elf.mjs');

function stats(client) {
  return decodeStats(client.request(MSG.GET_STATS));
}

function taskIndex(client, name) {
  for (let i = 0; i < 8; i++) {
    if (decodeTaskStats(client.request(MSG.GET_TASK_STATS, [i])).name === name) return i;
  }
  return -1;
}

test('the crystal gets at least 6 ms to start (STARTUP.DELAY), then the clocks are measured against it', () => {
  const { board, client } = bootBoard(fw, { silicon: { xosc: 'model', tick: true } });
  settle(board, 50);
  const ms = board.mcu.xoscModel.startupMs();
  assert.ok(ms >= 6, `XOSC STARTUP.DELAY programmed for ${ms.toFixed(2)} ms, want >= 6 ms`);
  const h = hello(client);
  assert.equal(h.clockFaults, 0, 'no clock fault with a working crystal');
  const s = stats(client);
  assert.equal(s.hw.clockFaults, 0);
  // FC0 against the 12 MHz crystal: what the firmware measured itself.
  assert.equal(s.hw.clkRefKhz, 12000);
  assert.equal(s.hw.clkSysKhz, 125000);
  assert.equal(s.hw.clkPeriKhz, 125000);
  assert.equal(s.hw.clkUsbKhz, 48000);
  assert.equal(s.hw.roscKhz, 6500, 'the ROSC, measured against the crystal (rp2040js: 6.5 MHz)');
  assert.match(board.debugText, /clk_sys kHz 0001e848/, 'the boot banner says 125000 kHz');
});

test('a dead crystal: clocks fall back to the ROSC, the TIMER ticks, the board serves and says why', () => {
  const { board, client } = bootBoard(fw, { silicon: { xosc: 'dead', tick: true } });
  // The fault code is shown once (3 pulses, ~3.3 s) before the core starts: then the link works.
  settle(board, 4000);
  // The TIMER counts (the tick is fed from clk_ref on the ROSC): uptime moves, timeouts end.
  const a = hello(client).uptimeMs;
  board.run(300_000);
  const b = hello(client).uptimeMs;
  assert.ok(b - a >= 250 && b - a <= 350, `uptime advanced ${b - a} ms in 300 ms`);
  // The heartbeat blinks: LED timing runs on the TIMER too.
  const t0 = board.timeUs();
  board.run(1_500_000);
  assert.ok(board.ledEdges(t0).length >= 2, 'the LED heartbeat runs after the fault code');
  const pulses = board.ledEdges(0, 4000e3).filter((e) => e.on).length;
  assert.ok(pulses >= 3, `LED fault code: ${pulses} pulses`);
  assert.equal(hello(client).clockFaults, CLK_FAULT.XOSC | CLK_FAULT.PLL_SYS | CLK_FAULT.PLL_USB);
  const s = stats(client);
  assert.equal(s.hw.clkSysKhz, 6500, 'clk_sys from the ROSC (nominal 6.5 MHz)');
  assert.equal(s.hw.clkPeriKhz, 6500, 'clk_peri kept running: UARTs and I2C have a clock');
  assert.equal(s.hw.clkUsbKhz, 0, 'no 48 MHz');
  assert.match(board.debugText, /clock fault 00000007/);
});

test('a UF2 update (the bootrom\'s watchdog-timeout reboot) is not reported as a hung task', () => {
  const { board, client } = bootBoard(fw, { silicon: { bootrom: rom } });
  settle(board, 20);
  const h0 = hello(client);
  assert.ok(h0.caps & (1 << 3), 'BOOTSEL advertised: the bootrom has reset_usb_boot');
  // REBOOT BOOTSEL: acked, then reset_usb_boot (fakerom.S), the mass-storage drive, a UF2 copy
  // and the bootrom's reboot (REASON.TIMER, SCRATCH0 = the LED mask, SCRATCH4 = 0).
  client.request(MSG.REBOOT, [1]);
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 500, what: 'the bootrom reboot' });
  assert.equal(board.resets[0].reason, 'bootrom');
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.BOOTROM, 'cause bootrom, not watchdog');
  assert.equal(h.crash.kind, FAULT_KIND.NONE, 'no made-up "task hung" crash record');
  assert.equal(stats(client).hw.wdReason, 1, 'STATS shows the raw WATCHDOG_REASON (timer)');
});

test('a bootrom reboot while our watchdog was armed (the bootrom entered any other way) is not ours either', () => {
  const { board, client } = bootBoard(fw, { silicon: { bootrom: rom } });
  settle(board, 20);
  hello(client); // the core has armed the watchdog: our tag is in SCRATCH4
  board.bootromReboot(); // e.g. BOOTSEL entered by picotool/a debugger, then a UF2 copy
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.BOOTROM);
  assert.equal(h.crash.kind, FAULT_KIND.NONE);
});

test('a real hang still gives cause watchdog and the crash record naming the task (bootrom present)', () => {
  const { board, client } = bootBoard(fw, { silicon: { bootrom: rom } });
  settle(board, 20);
  hello(client);
  client.send(MSG.DEBUG, debugReq(DEBUG_OP.HANG));
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 3000, stepUs: 1000,
    what: 'the watchdog reset' });
  assert.equal(board.resets[0].reason, 'timer');
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.WATCHDOG);
  assert.equal(h.crash.kind, FAULT_KIND.WATCHDOG);
  assert.equal(h.crash.task, taskIndex(client, 'link'));
});

test('a fault before hal_init reboots the board (PSM_WDSEL is set at reset, not in hal_init)', () => {
  const syms = elfSymbols(fw.replace(/\.bin$/, '.elf'));
  const at = syms.get('rp2040_clocks_init');
  assert.ok(at, 'rp2040_clocks_init in the symbol table');
  const { board, client } = bootBoard(fw);
  board.injectFaultAt(at); // the first instruction of the clock bring-up, before hal_init
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 500,
    what: `the reset after a fault at 0x${at.toString(16)} (PSM_WDSEL must select the core)` });
  assert.equal(board.ignoredWatchdogResets, 0);
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.FAULT);
  assert.equal(h.crash.kind, FAULT_KIND.HARDFAULT);
  assert.equal(h.crash.pc, at & ~1, 'the crash record has the faulting PC');
});

test('CHIP_RESET: a debugger restart is debug, the RUN pin run_pin, power-on power_on', () => {
  for (const [chipReset, cause] of [[0x00100000, RESET_CAUSE.DEBUG],
    [0x00010000, RESET_CAUSE.RUN_PIN], [0x00000100, RESET_CAUSE.POWER_ON]]) {
    const { board, client } = bootBoard(fw, { silicon: { chipReset } });
    settle(board, 20);
    assert.equal(hello(client).resetCause, cause, `CHIP_RESET 0x${chipReset.toString(16)}`);
    assert.equal(stats(client).hw.chipReset, chipReset, 'STATS shows the raw CHIP_RESET');
  }
});

test('the chip revision is read from SYSINFO and reported in HELLO and STATS', () => {
  for (const [rev, want] of [[null, 1], [2, 2]]) { // rp2040js's own CHIP_ID says B1
    const { board, client } = bootBoard(fw, { silicon: { chipRev: rev } });
    settle(board, 20);
    assert.equal(hello(client).chipRev, want);
    assert.equal(stats(client).hw.chipRev, want);
  }
});

test('STATS reports the RP2040\'s 264 KiB of SRAM and the RAM the image uses, unsaturated', () => {
  // The u16 fields of 1.0-1.2 saturate (ram_total read 65535); 1.3 appends them as u32.
  const end = elfSymbols(fw.replace(/\.bin$/, '.elf')).get('__ram_used_end');
  assert.ok(end, '__ram_used_end in the symbol table');
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  const s = stats(client);
  assert.equal(s.ramTotal, 264 * 1024);
  assert.equal(s.ramUsed, end - 0x20000000);
  assert.equal(s.ramTotal16, 0xffff); // what an older host reads: saturated, not wrapped
  assert.equal(s.ramUsed16, Math.min(s.ramUsed, 0xffff));
});

test('I2C runs at 100 kHz by default (internal pull-ups cannot do 400 kHz)', () => {
  const { board } = bootBoard(fw);
  settle(board, 20);
  const i2c = board.mcu.i2c[0];
  const hcnt = i2c.readUint32(0x1c);
  const lcnt = i2c.readUint32(0x20);
  const khz = 125e6 / (hcnt + lcnt) / 1e3;
  assert.ok(Math.abs(khz - 100) < 1, `SCL ${khz.toFixed(1)} kHz (hcnt ${hcnt}, lcnt ${lcnt})`);
});
