// board.mjs - the real picod firmware image running in rp2040js, with a Pico's surroundings:
// LED on GP25 (observed), button on GP15 (driven; active low), I2C0 with simulated sensors,
// the host link on UART0 and the debug text channel on UART1.
//
// There is no bootrom in the npm package, so boot2 does not run: the image is loaded at flash
// offset 0 and the core starts from the vector table after boot2 (VTOR = 0x10000100), which
// the firmware's own reset handler sets again. A watchdog reset (timeout or forced) is
// modelled as a new RP2040 whose SRAM and watchdog scratch/reason registers carry over, as on
// silicon, but only when PSM_WDSEL selects the processor (after power-on it selects nothing);
// an undefined instruction (UDF) raises HardFault as the real core does.
//
// opts.silicon (tests/emu/lib/silicon.mjs) adds what silicon does and rp2040js does not, per
// test: { xosc: 'model' | 'dead' (STABLE after the programmed delay / never), tick: true (the
// TIMER only counts while the watchdog tick runs), chipRev, chipReset (CHIP_RESET value),
// bootrom: path of tests/emu's fake bootrom image (reset_usb_boot, then the bootrom's reboot
// after a UF2 copy: bootromReboot below) }. FC0 and CHIP_RESET (HAD_POR) are always modelled.

import { readFileSync } from 'node:fs';
import { RP2040, GPIOPinState } from 'rp2040js';
import { I2CBus } from './devices.mjs';
import {
  installExactAlarms, installUsbSuspendW1C, wfiExit, installFrequencyCounter, installXoscModel,
  installTickModel, installChipRegisters, psmResetsProc0,
} from './silicon.mjs';

export const PIN_LED = 25;
export const PIN_BUTTON = 15;
const NS_PER_CYCLE = 8; // 125 MHz: rp2040js does not scale with the clock registers
const WATCHDOG_KEY = 0x40058;
const FLASH_ID_PAGE = 0x1ff000; // see firmware/hal/rp2040/board_id.c
const UART_FIFO_ROOM = 28;
const BOOTROM_BKPT = 0xb7; // tests/emu/fakerom.S: reset_usb_boot hands over to the harness
const WD_REASON_TIMER = 1;

class QuietLogger {
  constructor(echo) {
    this.echo = echo;
    this.warnings = [];
  }
  debug() {}
  info() {}
  warn(component, msg) {
    this.warnings.push(`[${component}] ${msg}`);
    if (this.echo) console.warn(`[${component}] ${msg}`);
  }
  error(component, msg) {
    this.warnings.push(`[${component}] ERROR ${msg}`);
    console.error(`[${component}] ${msg}`);
  }
}

export class EmuBoard {
  // opts: { firmware: path to .bin, boardId: 16 hex digits (optional), echoWarnings }
  constructor(opts) {
    this.image = readFileSync(opts.firmware);
    this.boardId = opts.boardId;
    this.silicon = opts.silicon || {};
    this.bootrom = this.silicon.bootrom ? readFileSync(this.silicon.bootrom) : null;
    this.pendingBootrom = false;
    this.ignoredWatchdogResets = 0; // watchdog fired while PSM_WDSEL selected nothing
    this.logger = new QuietLogger(!!opts.echoWarnings);
    this.bus = new I2CBus(this);
    this.ledLog = [];      // { tUs, on }
    this.linkListeners = [];
    this.linkQueue = [];   // host -> board bytes waiting for UART FIFO room
    this.debugText = '';
    this.resets = [];      // { tUs, reason }
    this.baseNanos = 0;
    this.totalCycles = 0;
    this.sleptCycles = 0;
    this.buttonDown = false;
    this.pendingReset = false;
    this.pendingFault = false;
    this.create(null);
  }

  create(carry) {
    const mcu = new RP2040();
    mcu.logger = this.logger;
    this.mcu = mcu;
    this.clock = mcu.clock;
    if (this.bootrom) {
      const bytes = new Uint8Array((this.bootrom.length + 3) & ~3);
      bytes.set(this.bootrom);
      mcu.bootrom.set(new Uint32Array(bytes.buffer)); // not loadBootrom(): that resets the core
    }
    const wd = mcu.peripherals[WATCHDOG_KEY];
    if (carry) {
      mcu.sram.set(carry.sram);
      wd.scratchData.set(carry.scratch);
      wd.reason = carry.reason;
    }
    wd.onWatchdogTrigger = () => {
      // Stop the counter: rp2040js re-arms its periodic alarm at "0 ns from now" after firing,
      // which would spin inside clock.tick(). The chip resets next anyway.
      wd.alarm.enable = false;
      wd.timer.enable = false;
      if (!psmResetsProc0(mcu)) {
        this.ignoredWatchdogResets++; // PSM_WDSEL = 0: the reset resets nothing
        return;
      }
      this.pendingReset = true;
    };
    this.exactAlarms(mcu);
    const si = this.silicon;
    installFrequencyCounter(mcu);
    installChipRegisters(mcu, { chipReset: carry ? carry.chipReset : (si.chipReset ?? 0x100),
      chipRev: si.chipRev ?? null });
    if (si.xosc) installXoscModel(mcu, { dead: si.xosc === 'dead' });
    if (si.tick) installTickModel(mcu, { cycles: carry ? carry.tickCycles : 0 });
    mcu.onBreak = (code) => {
      if (this.bootrom && code === BOOTROM_BKPT) this.pendingBootrom = true;
      else this.pendingFault = true;
    };
    mcu.gpio[PIN_LED].addListener((state) => {
      this.ledLog.push({ tUs: this.timeUs(), on: state === GPIOPinState.High });
    });
    mcu.gpio[PIN_BUTTON].setInputValue(!this.buttonDown);
    mcu.uart[0].onByte = (b) => {
      for (const fn of this.linkListeners) fn(b);
    };
    mcu.uart[1].onByte = (b) => {
      this.debugText += String.fromCharCode(b);
    };
    this.bus.attach(mcu.i2c[0]);
    this.linkQueue = [];
    this.load();
  }

  // Silicon's exact alarms (silicon.mjs): rp2040js fires up to 1 us early.
  exactAlarms(mcu) {
    installExactAlarms(mcu);
    installUsbSuspendW1C(mcu);
  }

  load() {
    const { mcu } = this;
    mcu.flash.set(this.image, 0);
    if (this.boardId) {
      const id = Buffer.from(this.boardId, 'hex');
      if (id.length !== 8) throw new Error(`boardId must be 16 hex digits, got '${this.boardId}'`);
      mcu.flash.set(Buffer.concat([Buffer.from('PICODID1', 'latin1'), id]), FLASH_ID_PAGE);
    }
    mcu.core.VTOR = 0x10000100;
    mcu.core.reset();
  }

  reboot(what = null) {
    const wd = this.mcu.peripherals[WATCHDOG_KEY];
    const carry = {
      sram: this.mcu.sram.slice(),
      scratch: Uint32Array.from(wd.scratchData),
      reason: wd.reason,
      // A watchdog reset is not a chip-level reset: CHIP_RESET and the tick keep their values.
      chipReset: this.mcu.peripherals[0x40064].readUint32(0x08),
      tickCycles: this.mcu.tickModel ? this.mcu.tickModel.cycles : 0,
    };
    this.resets.push({ tUs: this.timeUs(), reason: what || (wd.reason === 1 ? 'timer' : 'force') });
    this.baseNanos += this.clock.nanos;
    this.pendingReset = false;
    this.pendingFault = false;
    this.pendingBootrom = false;
    this.create(carry);
  }

  // What the real bootrom does after reset_usb_boot(mask, 0) (pico-bootrom bootrom_main.c and
  // usb_device_tiny/runtime.c): SCRATCH0/1 = its arguments (written by fakerom.S), a watchdog
  // reboot into the USB boot code (SCRATCH4 = 0xb007c0d3, SCRATCH5 = pc ^ -magic, SCRATCH6 = sp,
  // SCRATCH7 = pc), the mass-storage drive, the UF2 copy, and then watchdog_reboot(0, SRAM_END,
  // 1000): SCRATCH4 = 0, a watchdog *timeout* (REASON.TIMER) into the flash image. The image is
  // the same one (a re-flash of the same UF2), SRAM is left as the bootrom leaves it (its stack
  // and buffers are at the top of SRAM and in USB DPRAM: nothing of ours there).
  bootromReboot() {
    const wd = this.mcu.peripherals[WATCHDOG_KEY];
    const pc = 0x000025a9; // somewhere in the bootrom's USB boot code: only its shape matters
    wd.scratchData[5] = (pc ^ -0xb007c0d3) >>> 0;
    wd.scratchData[6] = 0x20042000;
    wd.scratchData[7] = pc;
    wd.scratchData[4] = 0; // the plain reboot after the UF2 copy
    wd.reason = WD_REASON_TIMER;
    this.reboot('bootrom');
  }

  // Emulated microseconds since the harness started (monotonic across resets).
  timeUs() {
    return (this.baseNanos + this.clock.nanos) / 1000;
  }

  // Microseconds since the last reset: the board's own TIMER.
  boardUs() {
    return this.clock.nanos / 1000;
  }

  feedLink() {
    const uart = this.mcu.uart[0];
    while (this.linkQueue.length && uart.rxFIFO.itemCount < UART_FIFO_ROOM) {
      uart.feedByte(this.linkQueue.shift());
    }
  }

  // Run the CPU for us microseconds of emulated time (WFI skips ahead to the next alarm).
  run(us) {
    // (in ns, the clock's unit: an end in us converted back could miss the clock by a double's
    // rounding, and the loop would spin without time passing)
    const end = this.baseNanos + this.clock.nanos + us * 1000;
    while (this.baseNanos + this.clock.nanos < end) {
      const target = end - this.baseNanos; // in this instance's clock
      this.runInstance(target);
      if (this.pendingReset) this.reboot();
      if (this.pendingBootrom) this.bootromReboot();
    }
  }

  runInstance(targetNanos) {
    const { core } = this.mcu;
    const clock = this.clock;
    let n = 0;
    while (clock.nanos < targetNanos && !this.pendingReset && !this.pendingBootrom) {
      if (core.waiting) {
        this.feedLink();
        if (this.wfiExit()) continue;
        const rem = targetNanos - clock.nanos;
        const dt = clock.nextAlarm ? Math.min(clock.nanosToNextAlarm, rem) : rem;
        clock.tick(dt);
        continue;
      }
      const pc = this.profiler ? core.PC : 0;
      const cycles = core.executeInstruction();
      this.totalCycles += cycles;
      if (this.profiler) this.profiler(pc, cycles);
      clock.tick(cycles * NS_PER_CYCLE);
      if (this.pendingFault) {
        this.pendingFault = false;
        core.exceptionEntry(3); // HardFault
      }
      if (this.faultAtPc !== undefined && core.PC === this.faultAtPc) {
        this.faultAtPc = undefined; // injectFaultAt: a fault at that instruction, once
        core.exceptionEntry(3);
      }
      if ((++n & 63) === 0) this.feedLink();
    }
  }

  // WFI ends on an interrupt that is already pending (silicon.mjs). True when awake.
  wfiExit() {
    return wfiExit(this.mcu);
  }

  // Advance by one instruction, or while sleeping by at most 1 us (or to the next alarm):
  // fine-grained stepping for tests that place host input at exact phases.
  step() {
    const { core } = this.mcu;
    const clock = this.clock;
    if (core.waiting) {
      this.feedLink();
      if (this.wfiExit()) return;
      const dt = clock.nextAlarm ? Math.min(clock.nanosToNextAlarm, 1000) : 1000;
      clock.tick(Math.max(dt, NS_PER_CYCLE));
      this.sleptCycles += Math.max(dt, NS_PER_CYCLE) / NS_PER_CYCLE;
    } else {
      const cycles = core.executeInstruction();
      this.totalCycles += cycles;
      clock.tick(cycles * NS_PER_CYCLE);
      if (this.pendingFault) {
        this.pendingFault = false;
        core.exceptionEntry(3);
      }
      this.feedLink();
    }
    if (this.pendingReset) this.reboot();
    if (this.pendingBootrom) this.bootromReboot();
  }

  // HardFault when the core is about to execute the instruction at addr (once), e.g. the
  // first instruction of a function, for faults early in boot.
  injectFaultAt(addr) {
    this.faultAtPc = addr & ~1;
  }

  // Run until pred() is true (checked every stepUs); throws after timeoutMs of emulated time.
  runUntil(pred, { timeoutMs = 2000, stepUs = 200, what = 'condition' } = {}) {
    const end = this.timeUs() + timeoutMs * 1000;
    while (!pred()) {
      if (this.timeUs() >= end) {
        throw new Error(`timed out after ${timeoutMs} ms of board time waiting for ${what}` +
          `\n--- debug UART ---\n${this.debugText}`);
      }
      this.run(stepUs);
    }
  }

  // ---- I/O ----------------------------------------------------------------------------------

  writeLink(bytes) {
    for (const b of bytes) this.linkQueue.push(b);
  }

  onLinkByte(fn) {
    this.linkListeners.push(fn);
  }

  setButton(down) {
    this.buttonDown = down;
    this.mcu.gpio[PIN_BUTTON].setInputValue(!down); // active low, pull-up
  }

  press() { this.setButton(true); }
  release() { this.setButton(false); }

  ledOn() {
    return this.mcu.gpio[PIN_LED].value === GPIOPinState.High;
  }

  // LED transitions within [fromUs, toUs) of harness time.
  ledEdges(fromUs = 0, toUs = Infinity) {
    return this.ledLog.filter((e) => e.tUs >= fromUs && e.tUs < toUs);
  }
}
