// proto.mjs - the picod wire protocol (proto/PROTOCOL.md) written again in JavaScript, from the
// spec, for the emulator tests' side of the link. Being a second implementation it
// cross-checks proto/src: a mismatch in COBS, CRC or a message layout fails the scenarios.

export const VERSION_BYTE = 0x11; // protocol 1.1
export const MSG = Object.freeze({
  HELLO: 0x01, PING: 0x02, HEARTBEAT: 0x03, GET_STATE: 0x04, SET_LED: 0x05,
  READ_SENSORS: 0x06, SET_POLL: 0x07, I2C_SCAN: 0x08, I2C_XFER: 0x09, GET_STATS: 0x0a,
  GET_TASK_STATS: 0x0b, REBOOT: 0x0c, DEBUG: 0x0d,
  BUTTON_EVENT: 0x40, SENSOR_READING: 0x41, FAULT: 0x42, LOG: 0x43, LINK_STATE: 0x44,
  ERROR: 0xff,
});
export const ACK = (t) => t | 0x80;
export const RESET_CAUSE = Object.freeze({
  UNKNOWN: 0, POWER_ON: 1, WATCHDOG: 2, SOFTWARE: 3, FAULT: 4, DEBUG: 5, BOOTROM: 6, RUN_PIN: 7,
});
export const CLK_FAULT = Object.freeze({ XOSC: 1, PLL_SYS: 2, PLL_USB: 4, MEASURE: 8 });
export const FAULT_KIND = Object.freeze({ NONE: 0, HARDFAULT: 1, WATCHDOG: 2, CLOCK: 8 });
export const BUTTON = Object.freeze({ PRESS: 1, RELEASE: 2, LONG: 3, DOUBLE: 4 });
export const DEBUG_OP = Object.freeze({ HANG: 1, FAULT: 2, SILENT: 3 });

// CRC-16/CCITT-FALSE, bit by bit (the C side uses its own loop).
export function crc16(bytes, crc = 0xffff) {
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

export function cobsEncode(data) {
  const out = [0];
  let codeAt = 0;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      out[codeAt] = code;
      codeAt = out.length;
      out.push(0);
      code = 1;
    } else {
      out.push(data[i]);
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        code = 1;
        if (i + 1 < data.length) {
          codeAt = out.length;
          out.push(0);
        } else {
          codeAt = -1; // a run of 254 ends the packet: no trailing code byte
        }
      }
    }
  }
  if (codeAt >= 0) out[codeAt] = code;
  return Uint8Array.from(out);
}

// Returns the decoded bytes, or null for invalid COBS.
export function cobsDecode(data) {
  const out = [];
  let i = 0;
  while (i < data.length) {
    const code = data[i++];
    if (code === 0 || i + code - 1 > data.length) return null;
    for (let k = 1; k < code; k++) {
      if (data[i] === 0) return null;
      out.push(data[i++]);
    }
    if (code !== 0xff && i < data.length) out.push(0);
  }
  return Uint8Array.from(out);
}

export function encodeFrame(type, seq, body = []) {
  const pkt = [VERSION_BYTE, type, seq & 0xff, (seq >> 8) & 0xff, ...body];
  const crc = crc16(pkt);
  pkt.push(crc & 0xff, crc >> 8);
  return Uint8Array.from([...cobsEncode(Uint8Array.from(pkt)), 0]);
}

// Feed bytes, get frames { version, type, seq, body } or { error } objects back.
export class FrameDecoder {
  constructor() {
    this.buf = [];
    this.errors = 0;
  }

  push(byte) {
    if (byte !== 0) {
      this.buf.push(byte);
      return null;
    }
    const raw = this.buf;
    this.buf = [];
    if (raw.length === 0) return null;
    const pkt = cobsDecode(Uint8Array.from(raw));
    if (!pkt || pkt.length < 6) return this.fail('cobs/short');
    const crc = pkt[pkt.length - 2] | (pkt[pkt.length - 1] << 8);
    if (crc16(pkt.subarray(0, pkt.length - 2)) !== crc) return this.fail('crc');
    return {
      version: pkt[0], type: pkt[1], seq: pkt[2] | (pkt[3] << 8),
      body: pkt.subarray(4, pkt.length - 2),
    };
  }

  fail(why) {
    this.errors++;
    return { error: why };
  }
}

// Little-endian body reader.
export class Reader {
  constructor(body) {
    this.b = body;
    this.p = 0;
  }
  u8() { return this.b[this.p++]; }
  u16() { const v = this.b[this.p] | (this.b[this.p + 1] << 8); this.p += 2; return v; }
  u32() { const v = (this.b[this.p] | (this.b[this.p + 1] << 8) | (this.b[this.p + 2] << 16) | (this.b[this.p + 3] << 24)) >>> 0; this.p += 4; return v; }
  i32() { return this.u32() | 0; }
  bytes(n) { const v = this.b.slice(this.p, this.p + n); this.p += n; return v; }
}

export function u16le(v) { return [v & 0xff, (v >> 8) & 0xff]; }
export function u32le(v) { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

// session: the host's session id (protocol 1.4), appended when nonzero.
export function helloReq(timeoutMs = 0, session = 0) {
  return [1, 1, ...u16le(timeoutMs), ...(session ? u32le(session) : [])];
}
export function debugReq(op, arg = 0) { return [op, ...u32le(arg)]; }

export function decodeHelloAck(body) {
  const r = new Reader(body);
  const m = {
    protoMajor: r.u8(), protoMinor: r.u8(), fw: [r.u8(), r.u8(), r.u8()], platform: r.u8(),
    resetCause: r.u8(), linkState: r.u8(), caps: r.u32(),
  };
  m.boardId = Buffer.from(r.bytes(8)).toString('hex');
  m.build = Buffer.from(r.bytes(24)).toString('latin1').replace(/\0+$/, '');
  m.crash = { kind: r.u8(), task: r.u8(), pc: r.u32(), lr: r.u32(), uptimeMs: r.u32() };
  m.uptimeMs = r.u32();
  // 1.1: silicon facts (absent from a 1.0 body: undefined)
  if (r.p < body.length) {
    m.chipRev = r.u8();
    m.clockFaults = r.u8();
  }
  return m;
}

export function decodeStats(body) {
  const r = new Reader(body);
  const names = ['uptimeMs', 'rxFrames', 'rxCrcErrors', 'rxCobsErrors', 'rxOversize', 'rxShort',
    'rxVersion', 'rxUnknown', 'rxDuplicates', 'txFrames', 'txEventsDropped', 'hostLostCount',
    'i2cErrors'];
  const m = {};
  for (const n of names) m[n] = r.u32();
  Object.assign(m, { ramUsed: r.u16(), ramTotal: r.u16(), taskCount: r.u8(), linkState: r.u8() });
  if (r.p < body.length) {
    m.hw = {
      chipRev: r.u8(), clockFaults: r.u8(), wdReason: r.u8(), chipReset: r.u32(),
      clkSysKhz: r.u32(), clkRefKhz: r.u32(), clkPeriKhz: r.u32(), clkUsbKhz: r.u32(),
      roscKhz: r.u32(),
    };
  }
  if (r.p < body.length) { // 1.3: the RAM sizes as u32 (the u16 ones saturate at 65535)
    m.ramUsed16 = m.ramUsed;
    m.ramTotal16 = m.ramTotal;
    Object.assign(m, { ramUsed: r.u32(), ramTotal: r.u32() });
  }
  return m;
}

export function decodeReading(r) {
  return {
    sensor: r.u8(), kind: r.u8(), addr: r.u8(), status: r.u8(), flags: r.u8(),
    tempCentiC: r.i32(), pressurePa: r.u32(), humidityMilliPct: r.u32(), tMs: r.u32(),
  };
}

export function decodeReadings(body) {
  const r = new Reader(body);
  const n = r.u8();
  const out = [];
  for (let i = 0; i < n; i++) out.push(decodeReading(r));
  return out;
}

export function decodeButtonEvent(body) {
  const r = new Reader(body);
  return { kind: r.u8(), button: r.u8(), tUs: r.u32(), durationUs: r.u32(), count: r.u32() };
}

export function decodeState(body) {
  const r = new Reader(body);
  return {
    uptimeMs: r.u32(), ledOn: r.u8(), ledMode: r.u8(), buttonDown: r.u8(), linkState: r.u8(),
    buttonPresses: r.u32(), sensorCount: r.u8(),
  };
}

export function decodeError(body) {
  const r = new Reader(body);
  return { code: r.u8(), reqType: r.u8(), detail: r.u16() };
}

export function decodeTaskStats(body) {
  const r = new Reader(body);
  return {
    index: r.u8(), name: Buffer.from(r.bytes(8)).toString('latin1').replace(/\0+$/, ''),
    state: r.u8(), runs: r.u32(), totalUs: r.u32(), maxUs: r.u32(), maxLateUs: r.u32(),
    stackHwm: r.u16(),
  };
}
