// usbhost.mjs - a USB host for the emulated device, built on rp2040js's RPUSBController
// primitives, that behaves like Linux where rp2040js's USBCDC helper does not: it asks for
// the device descriptor, strings and line coding, sends OUT data stages and answers every
// control-IN with an OUT status ZLP. Its bulk OUT side NAKs (holds the device's armed
// buffer) until it has data, like a real host, and keeps its own unbounded queue.
import { createSetupPacket } from 'rp2040js';
import { nowUs, runUntil } from './emu.mjs';

export const DPRAM_EP0_IN_BUF_CTRL = 0x80;
export const DPRAM_EP0_OUT_BUF_CTRL = 0x84;
const BUF_CTRL_STALL = 1 << 11;

export class UsbHost {
  constructor(mcu, { bulkIn = 2, bulkOut = 2, notif = 1 } = {}) {
    this.mcu = mcu;
    this.usb = mcu.usbCtrl;
    this.bulkIn = bulkIn;
    this.bulkOut = bulkOut;
    this.notif = notif;
    this.enabled = false;
    this.resets = 0;
    this.ep0In = [];         // IN packets of the current control transfer
    this.ep0OutArmed = null; // size of the EP0 OUT buffer the device offers, or null
    this.outArmed = null;    // same for the bulk OUT endpoint
    this.outQueue = [];      // host -> device bytes not yet taken by the device
    this.outPackets = [];    // explicit packets (sendPacket), sent before outQueue's bytes
    // OUT packets the host had ready right after the previous one, but the device had no
    // buffer armed: on a real bus each costs a NAK and a retry (single buffering's cost).
    this.outNaks = 0;
    this.nakCheck = mcu.clock.createAlarm(() => {
      if ((this.outQueue.length > 0 || this.outPackets.length > 0) && this.outArmed === null) this.outNaks++;
    });
    this.received = [];      // device -> host bulk bytes
    this.inPackets = [];     // their packet sizes (0 = ZLP)
    this.notifications = [];
    this.lastActivityUs = 0;
    this.usb.onUSBEnabled = () => { this.enabled = true; this.touch(); };
    this.usb.onResetReceived = () => { this.resets++; this.touch(); };
    this.usb.onEndpointWrite = (ep, buf) => this.#onIn(ep, buf);
    this.usb.onEndpointRead = (ep, size) => this.#onOutArmed(ep, size);
  }

  touch() {
    this.lastActivityUs = nowUs(this.mcu);
  }

  #onIn(ep, buf) {
    this.touch();
    if (ep === 0) {
      this.ep0In.push(Uint8Array.from(buf));
    } else if (ep === this.bulkIn) {
      this.inPackets.push(buf.length);
      for (const b of buf) this.received.push(b);
    } else if (ep === this.notif) {
      this.notifications.push(Uint8Array.from(buf));
    }
  }

  #onOutArmed(ep, size) {
    this.touch();
    if (ep === 0) {
      this.ep0OutArmed = size;
    } else if (ep === this.bulkOut) {
      this.outArmed = size;
      this.#feedOut();
    }
  }

  #feedOut() {
    if (this.outQueue.length === 0 && this.outPackets.length === 0) {
      return; // nothing to send: the device's buffer stays armed until we have data
    }
    if (this.outArmed === null) {
      return; // NAK: the packet waits until the device arms a buffer
    }
    let pkt;
    if (this.outPackets.length > 0) {
      pkt = this.outPackets.shift();
    } else {
      const n = Math.min(this.outArmed, this.outQueue.length);
      pkt = Uint8Array.from(this.outQueue.splice(0, n));
    }
    this.outArmed = null;
    this.usb.endpointReadDone(this.bulkOut, pkt);
    // Just after this packet's transaction ends, is the device ready for the next one?
    this.nakCheck.schedule(this.usb.readDelayMicroseconds * 1000 + 1);
  }

  run(until, maxUs = 200000) {
    return runUntil(this.mcu, until, maxUs);
  }

  // Run until the firmware sleeps and no USB traffic happened for quietUs.
  settle(quietUs = 50, maxUs = 200000) {
    return this.run(() => this.mcu.core.waiting && nowUs(this.mcu) - this.lastActivityUs > quietUs, maxUs);
  }

  // Power-up: wait for the controller to be enabled, then reset the bus (10 ms, like the
  // helper) and wait until the device acknowledged it.
  attach(maxUs = 500000) {
    if (!this.run(() => this.enabled, maxUs)) throw new Error('device never enabled its USB controller');
    this.busReset();
  }

  busReset() {
    const before = this.resets;
    this.ep0In = [];
    this.ep0OutArmed = null;
    this.outArmed = null;
    this.outPackets = [];
    this.usb.resetDevice();
    if (!this.run(() => this.resets > before, 100000)) throw new Error('device did not acknowledge the bus reset');
  }

  stallSeen() {
    const v = this.mcu.usbDPRAMView;
    return {
      inStall: (v.getUint32(DPRAM_EP0_IN_BUF_CTRL, true) & BUF_CTRL_STALL) !== 0,
      outStall: (v.getUint32(DPRAM_EP0_OUT_BUF_CTRL, true) & BUF_CTRL_STALL) !== 0,
      stallArm: this.usb.epStallArm & 3,
    };
  }

  #setup(fields) {
    this.ep0In = [];
    this.ep0OutArmed = null;
    this.touch();
    // The RP2040 clears EP_STALL_ARM when a SETUP arrives; rp2040js does not model it.
    this.usb.epStallArm = 0;
    this.usb.sendSetupPacket(createSetupPacket(fields));
  }

  // Control IN (device to host). Collects the data stage (until wLength bytes or a short
  // packet), then sends the OUT status ZLP unless statusOut is false (rp2040js style).
  // Returns the data, or throws if the device stalls or never answers.
  controlIn({ type = 0, recipient = 0, bRequest, wValue = 0, wIndex = 0, wLength, statusOut = true }) {
    this.#setup({ dataDirection: 1, type, recipient, bRequest, wValue, wIndex, wLength });
    const done = () => {
      const total = this.ep0In.reduce((s, p) => s + p.length, 0);
      const last = this.ep0In[this.ep0In.length - 1];
      return total >= wLength || (last !== undefined && last.length < 64);
    };
    if (!this.run(() => done() || this.stallSeen().stallArm !== 0)) {
      throw new Error(`control IN 0x${bRequest.toString(16)} wValue 0x${wValue.toString(16)}: no answer`);
    }
    if (!done()) {
      throw new Error(`control IN 0x${bRequest.toString(16)} wValue 0x${wValue.toString(16)}: STALL`);
    }
    const packets = this.ep0In.map((p) => p.length);
    const data = Uint8Array.from(this.ep0In.flatMap((p) => [...p]));
    if (statusOut) {
      if (!this.run(() => this.ep0OutArmed !== null)) throw new Error('device never armed the OUT status stage');
      this.ep0OutArmed = null;
      this.usb.endpointReadDone(0, new Uint8Array(0));
      this.settle();
    }
    data.packets = packets;
    return data;
  }

  // Control OUT (host to device), with an optional data stage of up to 64 bytes; waits for
  // the device's IN status ZLP. Throws on STALL.
  controlOut({ type = 0, recipient = 0, bRequest, wValue = 0, wIndex = 0, data = new Uint8Array(0) }) {
    this.#setup({ dataDirection: 0, type, recipient, bRequest, wValue, wIndex, wLength: data.length });
    const stalled = () => this.stallSeen().stallArm !== 0;
    if (data.length > 0) {
      if (!this.run(() => this.ep0OutArmed !== null || stalled())) throw new Error('no OUT data stage armed');
      if (stalled()) throw new Error(`control OUT 0x${bRequest.toString(16)}: STALL`);
      this.ep0OutArmed = null;
      this.usb.endpointReadDone(0, Uint8Array.from(data));
    }
    const statusDone = () => this.ep0In.some((p) => p.length === 0);
    if (!this.run(() => statusDone() || stalled())) throw new Error(`control OUT 0x${bRequest.toString(16)}: no status`);
    if (!statusDone()) throw new Error(`control OUT 0x${bRequest.toString(16)}: STALL`);
    this.settle();
  }

  getDescriptor(type, index, wLength, opts = {}) {
    return this.controlIn({ bRequest: 6, wValue: (type << 8) | index, wIndex: type === 3 && index ? 0x0409 : 0, wLength, ...opts });
  }

  // Bulk: queue bytes for the device; they go out as the device arms its OUT buffer.
  write(bytes) {
    for (const b of bytes) this.outQueue.push(b);
    this.#feedOut();
  }

  // Bulk: one OUT packet of exactly these bytes (an empty array is a zero-length packet).
  sendPacket(bytes) {
    if (bytes.length > 64) throw new Error('sendPacket: more than 64 bytes');
    this.outPackets.push(Uint8Array.from(bytes));
    this.#feedOut();
  }

  take(n) {
    return Uint8Array.from(this.received.splice(0, n));
  }

  // The whole Linux enumeration (drivers/usb/core/hub.c + cdc-acm open), returning what
  // the device answered so tests can check it.
  enumerateLikeLinux({ address = 5 } = {}) {
    const r = {};
    this.attach();
    r.device64 = this.getDescriptor(1, 0, 64);
    this.busReset();
    this.controlOut({ bRequest: 5, wValue: address });
    r.device = this.getDescriptor(1, 0, 18);
    r.config9 = this.getDescriptor(2, 0, 9);
    const total = r.config9[2] | (r.config9[3] << 8);
    r.config = this.getDescriptor(2, 0, total);
    r.lang = this.getDescriptor(3, 0, 255);
    r.strings = {};
    for (const idx of [r.device[14], r.device[15], r.device[16]]) {
      const d = this.getDescriptor(3, idx, 255);
      r.strings[idx] = Buffer.from(d.subarray(2)).toString('utf16le');
    }
    this.controlOut({ bRequest: 9, wValue: 1 });
    const coding = Uint8Array.from([0x00, 0xc2, 0x01, 0x00, 0x00, 0x00, 0x08]); // 115200 8N1
    this.controlOut({ type: 1, recipient: 1, bRequest: 0x20, wIndex: 0, data: coding });
    r.lineCoding = this.controlIn({ type: 1, recipient: 1, bRequest: 0x21, wIndex: 0, wLength: 7 });
    this.controlOut({ type: 1, recipient: 1, bRequest: 0x22, wValue: 3, wIndex: 0 });
    return r;
  }
}
