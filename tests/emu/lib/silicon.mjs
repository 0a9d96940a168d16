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
      const nanos = mcu.clock.nanos;
      const nowUs = Math.floor(nanos / 1000);
      const delta = ((value - nowUs) >>> 0) * 1000 - (nanos - nowUs * 1000);
      timer.alarms[i].clockAlarm.schedule(delta);
    }
  };
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
