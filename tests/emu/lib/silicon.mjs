// silicon.mjs - RP2040 behaviours rp2040js does not model, shared by every harness that
// runs our firmware (tests/emu/lib/board.mjs, tests/emu/usb/lib/emu.mjs):
//  - an alarm fires when TIMERAWL equals ALARMn (rp2040js fires up to 1 us early, so firmware
//    that re-checks the time after waking would find its deadline not reached and sleep again);
//  - WFI ends when an enabled interrupt is already pending, even with PRIMASK set (ARMv6-M
//    B1.5.19; rp2040js wakes only on a newly raised one, so an interrupt that became pending
//    between the firmware's masked check and its WFI would sleep until the next alarm);
//  - USB SIE_STATUS.SUSPENDED is write-1-to-clear like the other event bits (the register
//    description marks it "WC"; rp2040js leaves it out of its W1C mask, so a device could never
//    acknowledge a suspend and DEV_SUSPEND would stay asserted).
// And, for the bring-up faults of issue 9 (each installed by the harnesses, see below):
//  - the frequency counter FC0 (rp2040js has none: its registers read 0xffffffff);
//  - the crystal: STABLE only after the STARTUP delay the firmware programmed, or never (a dead
//    crystal), and a PLL without a running reference never locks;
//  - the TIMER counts only while the watchdog tick runs (TICK.ENABLE, CYCLES > 0, clk_ref
//    running): rp2040js counts from reset whatever the tick;
//  - CHIP_RESET (VREG_AND_CHIP_RESET, unimplemented in rp2040js) and the SYSINFO chip revision;
//  - a watchdog reset restarts the processor only when PSM_WDSEL selects it (the harnesses ask
//    psmResetsProc0 before rebooting).

const TIMER_KEY = 0x40054; // mcu.peripherals is keyed by address >>> 14
const TIMER_ALARM0 = 0x10;

// Reschedule every armed alarm for the exact nanosecond its ALARMn value is reached.
export function installExactAlarms(mcu) {
  const timer = mcu.peripherals[TIMER_KEY];
  const write = timer.writeUint32.bind(timer);
  timer.writeUint32 = (offset, value) => {
    write(offset, value);
    const i = (offset - TIMER_ALARM0) / 4;
    if (Number.isInteger(i) && i >= 0 && i < 4 && timer.alarms[i].armed) {
      scheduleAlarm(mcu, timer.alarms[i]);
    }
  };
}

// The TIMER's time in ns: the clock, less the time it was frozen (installTickModel).
function timerNanos(mcu) {
  return mcu.tickModel ? mcu.tickModel.nanos() : mcu.clock.nanos;
}

function scheduleAlarm(mcu, alarm) {
  if (mcu.tickModel && mcu.tickModel.frozen()) {
    alarm.clockAlarm.cancel(); // a TIMER that does not count never reaches ALARMn
    return;
  }
  const nanos = timerNanos(mcu);
  const nowUs = Math.floor(nanos / 1000);
  const delta = ((alarm.targetMicros - nowUs) >>> 0) * 1000 - (nanos - nowUs * 1000);
  alarm.clockAlarm.schedule(delta);
}

const USB_SIE_STATUS = 0x50;
const SIE_SUSPENDED = 1 << 4;

export function installUsbSuspendW1C(mcu) {
  const usb = mcu.usbCtrl;
  const write = usb.writeUint32.bind(usb);
  usb.writeUint32 = (offset, value) => {
    write(offset, value);
    if (offset === USB_SIE_STATUS && (usb.rawWriteValue & SIE_SUSPENDED) !== 0) {
      usb.sieStatus &= ~SIE_SUSPENDED;
      usb.sieStatusUpdated();
    }
  };
}

// Call while the core sleeps (core.waiting), before skipping time ahead: ends WFI if an
// enabled interrupt is pending. Returns true when the core is awake.
export function wfiExit(mcu) {
  const { core } = mcu;
  if (core.waiting && (core.pendingInterrupts & core.enabledInterrupts) !== 0) {
    core.waiting = false;
    core.interruptsUpdated = true;
  }
  return !core.waiting;
}

// ---- clocks, tick, reset registers, chip revision (issue 9) ---------------------------------

const SYSINFO_KEY = 0x40000;
const CLOCKS_KEY = 0x40008;
const PSM_KEY = 0x40010;
const XOSC_KEY = 0x40024;
const WATCHDOG_KEY = 0x40058;
const VREG_KEY = 0x40064;
const XOSC_HZ = 12e6;

// clk_usb in Hz from CLK_USB_CTRL/DIV (rp2040js computes clk_ref/sys/peri, not clk_usb).
function usbFreq(mcu) {
  const c = mcu.clocks;
  if (!(c.usbCtrl & (1 << 11))) return 0;
  const src = [mcu.pllUsb.frequency, mcu.pllSys.frequency, mcu.roscFreq, mcu.xoscFreq][(c.usbCtrl >> 5) & 7] || 0;
  const div = c.usbDiv >>> 8 || 0x10000;
  return src / div;
}

function fcSourceHz(mcu, src) {
  const c = mcu.clocks;
  switch (src) {
    case 0x01: return mcu.pllSys.frequency;
    case 0x02: return mcu.pllUsb.frequency;
    case 0x03: case 0x04: return mcu.roscFreq;
    case 0x05: return mcu.xoscFreq;
    case 0x08: return c.refFreq;
    case 0x09: return c.sysFreq;
    case 0x0a: return c.periFreq;
    case 0x0b: return usbFreq(mcu);
    default: return 0;
  }
}

// FC0 (datasheet 2.15.6): counts the source against clk_ref, whose frequency the firmware
// states in REF_KHZ; the result is what the firmware would read on silicon, including the
// error of a wrong REF_KHZ (e.g. clk_ref on the ROSC measuring itself). DONE right after SRC
// is written (the interval's duration is not modelled). mcu.fc0Log lists the sources measured.
export function installFrequencyCounter(mcu) {
  const clocks = mcu.clocks;
  const fc = { refKhz: 0, src: 0, result: 0, interval: 8 };
  mcu.fc0Log = [];
  const read = clocks.readUint32.bind(clocks);
  const write = clocks.writeUint32.bind(clocks);
  clocks.readUint32 = (offset) => {
    switch (offset) {
      case 0x80: return fc.refKhz;
      case 0x90: return fc.interval;
      case 0x94: return fc.src;
      case 0x98: return fc.src ? 0x11 : 0; // DONE | PASS, never RUNNING
      case 0x9c: return fc.result;
      case 0x84: case 0x88: case 0x8c: return 0;
      default: return read(offset);
    }
  };
  clocks.writeUint32 = (offset, value) => {
    switch (offset) {
      case 0x80: fc.refKhz = value & 0xfffff; return;
      case 0x90: fc.interval = value & 0xf; return;
      case 0x94: {
        fc.src = value & 0xff;
        const refHz = clocks.refFreq;
        const hz = refHz ? fcSourceHz(mcu, fc.src) * (fc.refKhz * 1000) / refHz : 0;
        const khz32 = Math.round(hz / 1000 * 32); // KHZ in bits 29:5, FRAC in 4:0
        fc.result = Math.min(khz32, 0x3fffffff) >>> 0;
        mcu.fc0Log.push({ src: fc.src, khz: fc.result >>> 5 });
        return;
      }
      case 0x84: case 0x88: case 0x8c: return;
      default: write(offset, value);
    }
  };
  // Any write to CLK_USB_* may change clk_usb: nothing to update, it is computed on demand.
}

// The crystal. { dead: true }: XI never oscillates, STABLE never comes (and rp2040js's clock
// model loses its 12 MHz: the PLLs, which need it as their reference, never lock). Otherwise
// STABLE comes STARTUP.DELAY * 256 crystal cycles after enabling, as on silicon.
// mcu.xoscModel.startupMs() is the start-up delay the firmware programmed.
export function installXoscModel(mcu, { dead = false } = {}) {
  const xosc = mcu.peripherals[XOSC_KEY];
  const model = {
    dead,
    enabledAtNs: null,
    startupMs: () => ((xosc.startup & 0x3fff) * 256 * ((xosc.startup & (1 << 20)) ? 4 : 1)) / XOSC_HZ * 1000,
    running: () => !dead && xosc.enabled && model.enabledAtNs !== null &&
      mcu.clock.nanos >= model.enabledAtNs + model.startupMs() * 1e6,
  };
  mcu.xoscModel = model;
  if (dead) mcu.xoscFreq = 0;
  const read = xosc.readUint32.bind(xosc);
  const write = xosc.writeUint32.bind(xosc);
  xosc.readUint32 = (offset) => {
    const v = read(offset);
    if (offset === 0x04) return model.running() ? v | 0x80000000 : v & 0x7fffffff;
    return v;
  };
  xosc.writeUint32 = (offset, value) => {
    const was = xosc.enabled;
    write(offset, value);
    if (xosc.enabled && !was) model.enabledAtNs = mcu.clock.nanos;
    if (!xosc.enabled) model.enabledAtNs = null;
    mcu.tickModel?.update();
  };
  if (dead) {
    for (const pll of [mcu.pllSys, mcu.pllUsb]) {
      const pread = pll.readUint32.bind(pll);
      pll.readUint32 = (offset) => (offset === 0 ? pread(offset) & 0x7fffffff : pread(offset));
    }
  }
}

// The TIMER counts only while the watchdog tick runs: TICK.ENABLE with CYCLES > 0 (CYCLES is 0
// after power-on; the watchdog block keeps it across a watchdog reset, `cycles` carries it) and
// a running clk_ref (on the XOSC only once the crystal runs). While frozen TIMERAWL stands still
// and no alarm fires. The rate is not modelled: 1 tick per us whatever CYCLES says.
export function installTickModel(mcu, { cycles = 0 } = {}) {
  const wd = mcu.peripherals[WATCHDOG_KEY];
  const timer = mcu.peripherals[TIMER_KEY];
  const model = {
    cycles,
    frozenSince: 0, // ns when it stopped, null while counting
    lostNs: 0,
    running: () => wd.tickEnable && model.cycles > 0 && clkRefRuns(mcu),
    frozen: () => model.frozenSince !== null,
    nanos: () => (model.frozenSince ?? mcu.clock.nanos) - model.lostNs,
    update() {
      const run = model.running();
      if (run && model.frozen()) {
        model.lostNs += mcu.clock.nanos - model.frozenSince;
        model.frozenSince = null;
        for (const a of timer.alarms) if (a.armed) scheduleAlarm(mcu, a);
      } else if (!run && !model.frozen()) {
        model.frozenSince = mcu.clock.nanos;
        for (const a of timer.alarms) a.clockAlarm.cancel();
      }
    },
  };
  mcu.tickModel = model;
  const wread = wd.readUint32.bind(wd);
  const wwrite = wd.writeUint32.bind(wd);
  wd.readUint32 = (offset) => {
    if (offset === 0x2c) return (wd.tickEnable ? 1 << 9 : 0) | (model.running() ? 1 << 10 : 0) | model.cycles;
    return wread(offset);
  };
  wd.writeUint32 = (offset, value) => {
    wwrite(offset, value);
    if (offset === 0x2c) {
      model.cycles = value & 0x1ff;
      model.update();
    }
  };
  const cwrite = mcu.clocks.writeUint32.bind(mcu.clocks);
  mcu.clocks.writeUint32 = (offset, value) => {
    cwrite(offset, value);
    if (offset === 0x30) model.update(); // CLK_REF_CTRL
  };
  const tread = timer.readUint32.bind(timer);
  timer.readUint32 = (offset) => {
    const us = model.nanos() / 1000;
    switch (offset) {
      case 0x0c: timer.latchedTimeHigh = Math.floor(us / 2 ** 32); return us >>> 0; // TIMELR
      case 0x24: return Math.floor(us / 2 ** 32); // TIMERAWH
      case 0x28: return us >>> 0; // TIMERAWL
      default: return tread(offset);
    }
  };
  model.update();
}

function clkRefRuns(mcu) {
  const src = mcu.clocks.refCtrl & 3;
  if (src !== 2) return true; // ROSC (or aux): always running here
  return mcu.xoscModel ? mcu.xoscModel.running() : true;
}

// CHIP_RESET (VREG_AND_CHIP_RESET + 8): `chipReset` (default 0x100, HAD_POR: a board just
// plugged in; 0x10000 HAD_RUN, 0x100000 HAD_PSM_RESTART). SYSINFO CHIP_ID revision: rp2040js
// reports 1 (B0/B1, "verified against the silicon"); `chipRev` overrides it.
export function installChipRegisters(mcu, { chipReset = 0x100, chipRev = null } = {}) {
  const vreg = mcu.peripherals[VREG_KEY];
  const vread = vreg.readUint32.bind(vreg);
  vreg.readUint32 = (offset) => (offset === 0x08 ? chipReset : vread(offset));
  if (chipRev !== null) {
    const sys = mcu.peripherals[SYSINFO_KEY];
    const sread = sys.readUint32.bind(sys);
    sys.readUint32 = (offset) =>
      (offset === 0 ? ((sread(0) & 0x0fffffff) | (chipRev << 28)) >>> 0 : sread(offset));
  }
}

// Whether a watchdog reset restarts the processor: PSM_WDSEL bit 15 (PROC0). After power-on
// PSM_WDSEL is 0 and a watchdog reset resets nothing (the core goes on where it was).
export function psmResetsProc0(mcu) {
  return (mcu.peripherals[PSM_KEY].wdsel & (1 << 15)) !== 0;
}
