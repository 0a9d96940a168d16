// dbuf-model.mjs - double-buffered device endpoints for rp2040js's RPUSBController.
//
// rp2040js 1.4.1 handles DOUBLE_BUFFERED endpoints wrongly: with both halves armed it starts
// buffer 1 before buffer 0, drives both halves through one alarm per endpoint, and writes
// every OUT packet into buffer 0 with buffer 0's control word. This layer takes over every
// endpoint (EP1..15, device mode) whose endpoint control word has DOUBLE_BUFFERED set, and
// leaves every other endpoint (EP0, single-buffered ones) to rp2040js untouched. It is
// installed on every MCU by lib/emu.mjs; it does nothing until firmware opens such an endpoint.
//
// The rules, each from the RP2040 datasheet (chapter 4.1, "USB"):
//
//  R1 (4.1.2.5.2, endpoint control) DOUBLE_BUFFERED (bit 30) selects two buffers; buffer 1
//     follows buffer 0 in DPRAM (BUFFER_ADDRESS, 64-byte aligned, + 64 for a 64-byte
//     endpoint: the datasheet's larger offsets apply to isochronous endpoints only).
//  R2 (4.1.2.5.3, buffer control) bits 15:0 describe buffer 0, bits 31:16 buffer 1 (FULL,
//     LAST, PID, AVAILABLE, LENGTH); STALL (11) and RESET (12) are shared.
//  R3 (4.1.2.5.3) "the buffer select starts at buffer 0 and flips between 0 and 1": the
//     controller only ever looks at the *selected* half. A transaction needs that half to be
//     AVAILABLE; the other half being available does not help, so halves are used strictly
//     0, 1, 0, 1 ...
//  R4 (4.1.2.5.3) RESET (bit 12) written by the CPU puts the selector back on buffer 0; the
//     controller clears the bit when it writes the status of the next transaction back. Nothing
//     else resets the selector: the datasheet names no other way (a USB bus reset is not said
//     to), so this model keeps it across bus resets and the firmware must use RESET.
//  R5 (4.1.2.6.2, device IN) an IN token is answered from the selected half if AVAILABLE and
//     FULL are set (else NAK; STALL if the STALL bit is set). After the host's ACK the
//     controller writes the status back into that half (FULL and AVAILABLE cleared), flips the
//     selector and sets the endpoint's BUFF_STATUS bit.
//  R6 (4.1.2.6.3, device OUT) an OUT packet is taken into the selected half if AVAILABLE is set
//     and FULL clear (else NAK); status write-back sets FULL and the received LENGTH, clears
//     AVAILABLE, flips the selector, sets BUFF_STATUS.
//  R7 (4.1.2.5.2) INTERRUPT_PER_BUFF (bit 29): BUFF_STATUS is raised for every completed
//     buffer; INTERRUPT_PER_DOUBLE_BUFF (bit 28): only each time both buffers are done (here:
//     every second completion since the last RESET). Neither: no BUFF_STATUS.
//  R8 (BUFF_STATUS register description) one bit per endpoint and direction (2n = IN,
//     2n+1 = OUT) although two buffers can complete: "clearing the buffer status bit may
//     instantly re set it". Modelled as a queue of completions per endpoint: writing 1 retires
//     the oldest, and the bit stays set while any remain.
//  R9 (BUFF_CPU_SHOULD_HANDLE register description) says which buffer (0/1) the CPU should
//     handle for each BUFF_STATUS bit, valid with an interrupt per buffer: here the half of
//     the oldest pending completion.
//  R10 (4.1.2.5.3 and the AVAILABLE field description) AVAILABLE hands a half to the
//     controller, which clears it "when writing the status back": the word is shared, so a CPU
//     write that arms a half while the controller still owns one can race that write-back on
//     the real chip. Not an error the chip reports; the model counts such writes
//     (stats.ownedRewrites) so tests can prove the firmware never does it. Writes that only
//     take buffers back (STALL, 0) are aborts and allowed.
//  R11 (SIE_STATUS.DATA_SEQ_ERROR description) an OUT packet whose PID does not match the
//     buffer's PID is a data sequence error. The model plays the host's DATA0/1 toggle
//     (reset by SET_CONFIGURATION, CLEAR_FEATURE(ENDPOINT_HALT) and bus reset), sets
//     SIE_STATUS bit 31 on a mismatch and counts it; IN packets with a PID the host did not
//     expect are counted too (stats.seqErrors).
//
// Option takeSingle (for benchmarks): also take over enabled single-buffered endpoints EP1..15,
// which then use buffer 0 only (4.1.2.5.3: "only the first half"), so that both builds run
// under the same host timing (rp2040js reports a single-buffered IN complete as soon as it is
// armed). Off by default: single-buffered endpoints are rp2040js's.
//
// Host-side timing follows rp2040js: a transaction takes packetUs (10 us) of emulated time
// after the half becomes usable; IN data reaches usbCtrl.onEndpointWrite then, and an OUT half
// is offered to the host with usbCtrl.onEndpointRead(ep, length), answered (possibly later:
// NAK until then) with usbCtrl.endpointReadDone(ep, data).

const EP_CTRL_ENABLE = 1 << 31;
const EP_CTRL_DOUBLE_BUFFERED = 1 << 30;
const EP_CTRL_INTERRUPT_PER_BUFF = 1 << 29;
const EP_CTRL_INTERRUPT_PER_DOUBLE_BUFF = 1 << 28;
const BC_FULL = 1 << 15;
const BC_PID1 = 1 << 13;
const BC_RESET = 1 << 12;
const BC_STALL = 1 << 11;
const BC_AVAILABLE = 1 << 10;
const BC_LEN = 0x3ff;
const BUFF_STATUS = 0x58;
const BUFF_CPU_SHOULD_HANDLE = 0x5c;
const SIE_STATUS_DATA_SEQ_ERROR = 1 << 31;
const EP1_BUF_CTRL = 0x88;
const EP15_BUF_CTRL_OUT = 0xfc;

const half = (word, h) => (h ? word >>> 16 : word) & 0xffff;
const epCtrlOffset = (ep, out) => 0x08 + 8 * (ep - 1) + (out ? 4 : 0);
const bufCtrlOffset = (ep, out) => 0x80 + 8 * ep + (out ? 4 : 0);
const statusBit = (ep, out) => 1 << (2 * ep + (out ? 1 : 0));

class EndpointState {
  constructor(ep, out) {
    this.ep = ep;
    this.out = out;
    this.sel = 0;            // R3: the controller's buffer select
    this.owned = [false, false]; // halves armed by the CPU, status not yet written back
    this.inFlight = false;   // a transaction is scheduled
    this.completions = [];   // R8/R9: halves completed, oldest first
    this.sinceReset = 0;     // completions since RESET (R7, per double buffer)
    this.hostPid = 0;        // R11: the host's next DATA PID for this endpoint
    this.hostPackets = [];   // OUT: packets the host handed over, waiting for a usable half
    this.offered = false;    // OUT: the host has been told it may send (onEndpointRead)
  }
}

export class DoubleBufferModel {
  constructor(mcu, { packetUs = 10, takeSingle = false } = {}) {
    this.mcu = mcu;
    this.takeSingle = takeSingle;
    this.usb = mcu.usbCtrl;
    this.dpram = mcu.usbDPRAMView;
    this.packetUs = packetUs;
    this.eps = new Map();
    this.stats = { ownedRewrites: [], seqErrors: 0, naks: 0, packets: [] };
    this.logPackets = false;
    this.#patch();
  }

  // Is endpoint ep (1..15) in direction out handled here (enabled and double-buffered)?
  isModelled(ep, out) {
    if (ep < 1 || ep > 15 || this.usb.hostMode) return false;
    const ctrl = this.dpram.getUint32(epCtrlOffset(ep, out), true);
    return (ctrl & EP_CTRL_ENABLE) !== 0 && (this.takeSingle || (ctrl & EP_CTRL_DOUBLE_BUFFERED) !== 0);
  }

  state(ep, out) {
    const key = ep * 2 + (out ? 1 : 0);
    let s = this.eps.get(key);
    if (!s) {
      s = new EndpointState(ep, out);
      this.eps.set(key, s);
    }
    return s;
  }

  #patch() {
    const usb = this.usb;
    const dpramUpdated = usb.DPRAMUpdated.bind(usb);
    usb.DPRAMUpdated = (offset, value) => {
      if (offset >= EP1_BUF_CTRL && offset <= EP15_BUF_CTRL_OUT) {
        const ep = (offset - 0x80) >> 3;
        const out = (offset & 4) !== 0;
        if (this.isModelled(ep, out)) {
          this.#cpuWrite(ep, out, value >>> 0);
          return;
        }
      }
      dpramUpdated(offset, value);
    };
    const readDone = usb.endpointReadDone.bind(usb);
    usb.endpointReadDone = (ep, buffer, delay) => {
      if (this.isModelled(ep, true)) {
        this.#hostOut(ep, Uint8Array.from(buffer));
        return;
      }
      readDone(ep, buffer, delay);
    };
    const read = usb.readUint32.bind(usb);
    usb.readUint32 = (offset) => {
      if (offset === BUFF_CPU_SHOULD_HANDLE) return this.#cpuShouldHandle();
      return read(offset);
    };
    const write = usb.writeUint32.bind(usb);
    usb.writeUint32 = (offset, value) => {
      const cleared = usb.rawWriteValue >>> 0;
      write(offset, value);
      if (offset === BUFF_STATUS) this.#retire(cleared);
    };
    const resetDevice = usb.resetDevice.bind(usb);
    usb.resetDevice = () => {
      this.#busReset();
      resetDevice();
    };
    const sendSetup = usb.sendSetupPacket.bind(usb);
    usb.sendSetupPacket = (packet) => {
      this.#setupSeen(packet);
      sendSetup(packet);
    };
  }

  // ---- CPU side --------------------------------------------------------------------------

  #cpuWrite(ep, out, word) {
    const s = this.state(ep, out);
    const arming = (word & BC_AVAILABLE) !== 0 || (word & (BC_AVAILABLE << 16)) !== 0;
    if (arming && (s.owned[0] || s.owned[1])) {
      this.stats.ownedRewrites.push({ ep, out, word, owned: [...s.owned], us: this.#nowUs() }); // R10
    }
    if (word & BC_RESET) { // R4
      s.sel = 0;
      s.sinceReset = 0;
    }
    for (const h of [0, 1]) s.owned[h] = (half(word, h) & BC_AVAILABLE) !== 0;
    this.#kick(s);
  }

  // Start the next transaction if the selected half can take one (R3, R5, R6).
  #kick(s) {
    if (s.inFlight || !this.isModelled(s.ep, s.out)) return;
    const word = this.dpram.getUint32(bufCtrlOffset(s.ep, s.out), true);
    if (word & BC_STALL) return; // the host sees STALL; nothing completes
    const b = half(word, s.sel);
    if (!(b & BC_AVAILABLE)) return; // NAK
    if (s.out) {
      if (b & BC_FULL) return;
      if (s.hostPackets.length > 0) {
        this.#schedule(s);
      } else if (!s.offered) {
        s.offered = true;
        this.usb.onEndpointRead?.(s.ep, b & BC_LEN);
      }
    } else if (b & BC_FULL) {
      this.#schedule(s);
    }
  }

  #schedule(s) {
    s.inFlight = true;
    if (!s.alarm) {
      s.alarm = this.mcu.clock.createAlarm(() => {
        s.inFlight = false;
        this.#transact(s);
      });
    }
    s.alarm.schedule(this.packetUs * 1000);
  }

  // ---- host side -------------------------------------------------------------------------

  #hostOut(ep, data) {
    const s = this.state(ep, true);
    s.offered = false;
    s.hostPackets.push(data);
    const word = this.dpram.getUint32(bufCtrlOffset(ep, true), true);
    if (!(half(word, s.sel) & BC_AVAILABLE)) this.stats.naks++;
    this.#kick(s);
  }

  // One transaction on the selected half, if it is still usable (the CPU may have taken the
  // buffers back meanwhile: then the OUT packet waits, NAKed, for the next usable half).
  #transact(s) {
    if (!this.isModelled(s.ep, s.out)) return;
    const off = bufCtrlOffset(s.ep, s.out);
    let word = this.dpram.getUint32(off, true);
    const h = s.sel;
    const b = half(word, h);
    if (word & BC_STALL || !(b & BC_AVAILABLE) || (s.out ? b & BC_FULL : !(b & BC_FULL))) {
      this.#kick(s);
      return;
    }
    const ctrl = this.dpram.getUint32(epCtrlOffset(s.ep, s.out), true);
    const bufOff = (ctrl & 0xffc0) + 64 * h; // R1
    const pid = b & BC_PID1 ? 1 : 0;
    let nb;
    let data;
    if (s.out) {
      data = s.hostPackets.shift();
      const len = Math.min(data.length, b & BC_LEN);
      this.mcu.usbDPRAM.set(data.subarray(0, len), bufOff);
      if (pid !== s.hostPid) this.#seqError(true); // R11
      nb = ((b & ~(BC_AVAILABLE | BC_LEN)) | BC_FULL | len) & 0xffff; // R6
    } else {
      data = this.mcu.usbDPRAM.slice(bufOff, bufOff + (b & BC_LEN));
      if (pid !== s.hostPid) this.#seqError(false);
      nb = b & ~(BC_AVAILABLE | BC_FULL) & 0xffff; // R5
    }
    s.hostPid = pid ^ 1;
    word = h ? (word & 0xffff) | (nb << 16) : (word & 0xffff0000) | nb;
    word &= ~BC_RESET; // R4: cleared when the status is written back
    this.dpram.setUint32(off, word >>> 0, true);
    s.owned[h] = false;
    if (ctrl & EP_CTRL_DOUBLE_BUFFERED) s.sel ^= 1; // R3
    if (this.logPackets) this.stats.packets.push({ ep: s.ep, out: s.out, half: h, len: data.length, pid, us: this.#nowUs() });
    this.#complete(s, h, ctrl);
    if (!s.out) this.usb.onEndpointWrite?.(s.ep, data);
    this.#kick(s);
  }

  // R7, R8: raise BUFF_STATUS for a completed half.
  #complete(s, h, ctrl) {
    s.sinceReset++;
    const perBuff = (ctrl & EP_CTRL_INTERRUPT_PER_BUFF) !== 0;
    const perDouble = (ctrl & EP_CTRL_INTERRUPT_PER_DOUBLE_BUFF) !== 0 &&
      (ctrl & EP_CTRL_DOUBLE_BUFFERED) !== 0 && s.sinceReset % 2 === 0;
    if (!perBuff && !perDouble) return;
    s.completions.push(h);
    this.usb.buffStatus |= statusBit(s.ep, s.out);
    this.usb.buffStatusUpdated();
  }

  // R8: a write of 1 retires the oldest completion; the bit comes back while others remain.
  #retire(cleared) {
    let again = 0;
    for (const s of this.eps.values()) {
      const bit = statusBit(s.ep, s.out);
      if (cleared & bit && s.completions.length > 0) s.completions.shift();
      if (s.completions.length > 0) again |= bit;
    }
    if (again) {
      this.usb.buffStatus |= again;
      this.usb.buffStatusUpdated();
    }
  }

  // R9
  #cpuShouldHandle() {
    let v = 0;
    for (const s of this.eps.values()) {
      if (s.completions[0] === 1) v |= statusBit(s.ep, s.out);
    }
    return v >>> 0;
  }

  #seqError(out) {
    this.stats.seqErrors++;
    if (out) {
      this.usb.sieStatus |= SIE_STATUS_DATA_SEQ_ERROR;
      this.usb.sieStatusUpdated();
    }
  }

  // A bus reset aborts whatever was on the wire and the host's pending OUT data; buffer
  // selectors are left alone (R4); toggles restart at DATA0.
  #busReset() {
    for (const s of this.eps.values()) {
      if (s.alarm?.scheduled) s.alarm.cancel();
      s.inFlight = false;
      s.hostPackets = [];
      s.offered = false;
      s.completions = [];
      s.owned = [false, false];
      s.hostPid = 0;
    }
  }

  // SET_CONFIGURATION resets every toggle, and ends the old configuration's endpoints for the
  // host too (what it had offered or queued is void, as after a bus reset);
  // CLEAR_FEATURE(ENDPOINT_HALT) resets that endpoint's toggle.
  #setupSeen(p) {
    const [bmRequestType, bRequest] = p;
    const wValue = p[2] | (p[3] << 8);
    const wIndex = p[4] | (p[5] << 8);
    if (bmRequestType === 0x00 && bRequest === 9) {
      this.#busReset();
    } else if (bmRequestType === 0x02 && bRequest === 1 && wValue === 0) {
      const ep = wIndex & 0x0f;
      const out = (wIndex & 0x80) === 0;
      this.state(ep, out).hostPid = 0;
    }
  }

  #nowUs() {
    return this.mcu.clock.nanos / 1000;
  }
}

export function installDoubleBufferModel(mcu, opts) {
  if (!mcu.dbufModel) mcu.dbufModel = new DoubleBufferModel(mcu, opts);
  return mcu.dbufModel;
}
