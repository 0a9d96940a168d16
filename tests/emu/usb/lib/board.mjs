// board.mjs - an emulated Pico as the bridge and the e2e tests see it: the firmware in
// rp2040js, its USB enumerated by the Linux-like host, the button on GP15 (active low, the
// pad pull-up is not modelled so JS drives the level), the LED on GP25, the simulated sensors
// on I2C0 (tests/emu/lib/devices.mjs when present), and reboots that keep SRAM and the
// watchdog's reason/scratch registers the way a real watchdog reset does.
import { createMcu, flashImage, nowUs, runUntil } from './emu.mjs';
import { UsbHost } from './usbhost.mjs';
import { psmResetsProc0 } from '../../lib/silicon.mjs';

const WATCHDOG_BASE = 0x40058000;
const WD_REASON_TIMER = 1;
const WD_REASON_FORCE = 2;
export const LED_PIN = 25;
export const BUTTON_PIN = 15;

let devices = null;
try {
  devices = await import('../../lib/devices.mjs');
} catch {
  devices = null; // the rp2040 port's sensor models are not there: a board with no sensors
}

export class EmuBoard {
  // silicon: createMcu's silicon models for the first boot; siliconAfterReboot for the later
  // ones (default: the same), e.g. a crystal that is dead on the first boot only.
  constructor(firmwarePath, { log = () => {}, silicon = {}, siliconAfterReboot = null } = {}) {
    this.image = flashImage(firmwarePath);
    this.log = log;
    this.silicon = silicon;
    this.siliconAfterReboot = siliconAfterReboot || silicon;
    this.buttonDown = false;
    this.boots = 0;
    this.pendingReboot = null;
    this.bus = null;
    this.sensors = {};
    if (devices) {
      const clock = { timeUs: () => (this.mcu ? nowUs(this.mcu) : 0) };
      this.bus = new devices.I2CBus(clock);
      this.sensors.bme280 = this.bus.add(new devices.BME280(clock, 0x76));
      this.sensors.sht3x = this.bus.add(new devices.SHT3x(clock, 0x44));
    }
    this.#boot(null);
  }

  get hasSensors() {
    return this.bus !== null;
  }

  #boot(carry) {
    const mcu = createMcu(this.image, this.boots === 0 ? this.silicon : this.siliconAfterReboot);
    if (carry) {
      mcu.sram.set(carry.sram);
      const wd = mcu.findPeripheral(WATCHDOG_BASE);
      wd.reason = carry.reason;
      wd.scratchData.set(carry.scratch);
    }
    this.mcu = mcu;
    this.boots++;
    mcu.findPeripheral(WATCHDOG_BASE).onWatchdogTrigger = () => {
      if (!psmResetsProc0(mcu)) return; // PSM_WDSEL = 0: the reset resets nothing
      // Inside an instruction: finish it, reboot from the run loop.
      this.pendingReboot = mcu.findPeripheral(WATCHDOG_BASE).reason || WD_REASON_TIMER;
    };
    mcu.gpio[BUTTON_PIN].setInputValue(!this.buttonDown);
    if (this.bus) this.bus.attach(mcu.i2c[0]);
    this.ledListeners = this.ledListeners || new Set();
    mcu.gpio[LED_PIN].addListener(() => {
      for (const cb of this.ledListeners) cb(this.led);
    });
    this.host = new UsbHost(mcu);
  }

  // Reboot like a watchdog reset: SRAM and watchdog scratch survive, USB re-enumerates.
  reboot(reason = WD_REASON_FORCE) {
    const old = this.mcu;
    const wd = old.findPeripheral(WATCHDOG_BASE);
    this.log(`board: reboot (watchdog reason ${reason})`);
    // rp2040js reports a bulk IN packet complete when it is armed and hands its bytes to the
    // host 10 us later. A packet the firmware saw complete before resetting is the host's on a
    // real bus (it was ACKed): let the old chip's pending deliveries happen (no instructions
    // run), and keep what the host received, e.g. the REBOOT acknowledgement.
    old.clock.tick(20000);
    const received = this.host.received;
    this.#boot({ sram: old.sram.slice(), reason, scratch: wd.scratchData.slice() });
    this.host.received.push(...received);
  }

  // Power-up enumeration, the way Linux does it. Returns the enumeration record.
  enumerate() {
    const r = this.host.enumerateLikeLinux();
    this.serial = r.strings[r.device[16]];
    return r;
  }

  get led() {
    return this.mcu.gpio[LED_PIN].outputValue;
  }

  setButton(down) {
    this.buttonDown = down;
    this.mcu.gpio[BUTTON_PIN].setInputValue(!down);
  }

  nowUs() {
    return nowUs(this.mcu);
  }

  // Run emulated time until until() or maxUs. If the firmware reboots itself (watchdog,
  // REBOOT request) the board reboots and this returns 'rebooted': enumerate again.
  run(until, maxUs) {
    const ok = runUntil(this.mcu, () => until() || this.pendingReboot !== null, maxUs);
    if (this.pendingReboot !== null) {
      const reason = this.pendingReboot;
      this.pendingReboot = null;
      this.reboot(reason);
      return 'rebooted';
    }
    return ok;
  }
}
