// emu.mjs - load a firmware image into rp2040js and run it in emulated time.
//
// Small on purpose: the USB tests need an MCU, a loader (ELF or raw .bin, with or without
// boot2 in front of the vector table) and a run loop whose stop condition is an observable
// state (a predicate), never wall-clock sleeps. The bridge has its own real-time-paced loop.
import { readFileSync } from 'node:fs';
import { RP2040, ConsoleLogger, LogLevel } from 'rp2040js';
import { installDoubleBufferModel } from './dbuf-model.mjs';
import {
  installExactAlarms, installUsbSuspendW1C, wfiExit, installFrequencyCounter, installChipRegisters,
  installXoscModel, installTickModel,
} from '../../lib/silicon.mjs';

const FLASH = 0x10000000;
const SRAM = 0x20000000;
const SRAM_END = 0x20042000;
const CYCLE_NS = 8; // rp2040js assumes 125 MHz
const MAX_IDLE_STEP_NS = 20000;

// Parse the PT_LOAD segments of a 32-bit little-endian ELF into (paddr, bytes) pairs.
export function elfSegments(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 1 || buf[5] !== 1) {
    throw new Error('not a 32-bit little-endian ELF file');
  }
  const phoff = buf.readUInt32LE(28);
  const phentsize = buf.readUInt16LE(42);
  const phnum = buf.readUInt16LE(44);
  const segs = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = buf.readUInt32LE(p);
    const offset = buf.readUInt32LE(p + 4);
    const paddr = buf.readUInt32LE(p + 12);
    const filesz = buf.readUInt32LE(p + 16);
    if (type === 1 && filesz > 0) {
      segs.push({ paddr, bytes: buf.subarray(offset, offset + filesz) });
    }
  }
  return segs;
}

// Flash image from an ELF (its loadable segments in flash) or a raw .bin.
export function flashImage(path) {
  const buf = readFileSync(path);
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0x7f454c46) {
    const image = new Uint8Array(2 * 1024 * 1024).fill(0xff);
    let end = 0;
    for (const { paddr, bytes } of elfSegments(buf)) {
      if (paddr >= FLASH && paddr < FLASH + image.length) {
        image.set(bytes, paddr - FLASH);
        end = Math.max(end, paddr - FLASH + bytes.length);
      }
    }
    if (end === 0) {
      throw new Error(`${path}: no loadable segment in flash`);
    }
    return image.subarray(0, end);
  }
  return new Uint8Array(buf);
}

// The vector table is at the start of flash, or after a 256-byte boot2 (real Pico layout).
function vectorTableAddress(image) {
  const word = (off) => image[off] | (image[off + 1] << 8) | (image[off + 2] << 16) | (image[off + 3] << 24);
  const isStack = (v) => (v >>> 0) > SRAM && (v >>> 0) <= SRAM_END;
  if (isStack(word(0))) {
    return FLASH;
  }
  if (image.length > 0x108 && isStack(word(0x100))) {
    return FLASH + 0x100;
  }
  throw new Error('no vector table at 0x10000000 or 0x10000100');
}

// A fresh MCU running the image at path (or a flash image already loaded), with the two
// silicon behaviours rp2040js lacks (tests/emu/lib/silicon.mjs); rp2040js logs only errors,
// to stderr. The double-buffered endpoint model (dbuf-model.mjs) is installed:
// it takes over only endpoints whose control word has DOUBLE_BUFFERED set (mcu.dbufModel).
// silicon: { chipRev, chipReset, xosc: 'model' | 'dead', tick: true } as in tests/emu/lib/board.mjs
// (FC0 and CHIP_RESET are always modelled); stockUsb: true leaves every endpoint to rp2040js
// (no double-buffer model), as rp2040js's own USBCDC helper sees a device.
export function createMcu(pathOrImage, silicon = {}) {
  const mcu = new RP2040();
  mcu.logger = new ConsoleLogger(LogLevel.Error, false);
  if (!silicon.stockUsb) installDoubleBufferModel(mcu);
  installExactAlarms(mcu); // silicon's alarm timing (tests/emu/lib/silicon.mjs)
  installUsbSuspendW1C(mcu);
  installFrequencyCounter(mcu);
  installChipRegisters(mcu, { chipReset: silicon.chipReset ?? 0x100, chipRev: silicon.chipRev ?? null });
  if (silicon.xosc) installXoscModel(mcu, { dead: silicon.xosc === 'dead' });
  if (silicon.tick) installTickModel(mcu, { cycles: silicon.tickCycles ?? 0 });
  const image = typeof pathOrImage === 'string' ? flashImage(pathOrImage) : pathOrImage;
  mcu.flash.set(image, 0);
  mcu.core.VTOR = vectorTableAddress(image);
  mcu.core.reset();
  return mcu;
}

export function nowUs(mcu) {
  return mcu.clock.nanos / 1000;
}

// Run until until() is true (checked every few instructions) or maxUs of emulated time
// pass. Returns true if the predicate became true. WFI skips ahead to the next alarm.
export function runUntil(mcu, until, maxUs = 1e6) {
  const { core, clock } = mcu;
  const deadline = clock.nanos + maxUs * 1000;
  for (;;) {
    if (until()) {
      return true;
    }
    if (clock.nanos >= deadline) {
      return false;
    }
    for (let i = 0; i < 256 && clock.nanos < deadline; i++) {
      if (core.waiting && !wfiExit(mcu)) { // WFI ends on an already pending interrupt
        const toNext = clock.nanosToNextAlarm;
        // Sleeping: skip ahead, but in small steps so time-based predicates see time pass.
        const step = Math.min(toNext > 0 ? toNext : MAX_IDLE_STEP_NS, MAX_IDLE_STEP_NS, deadline - clock.nanos);
        clock.tick(step);
        break;
      }
      clock.tick(core.executeInstruction() * CYCLE_NS);
    }
  }
}

// Run for us microseconds of emulated time.
export function runFor(mcu, us) {
  runUntil(mcu, () => false, us);
}
