// devices.mjs - simulated I2C devices on rp2040js's I2C0: a register-level BME280 and an SHT3x,
// plus the bus that routes the controller's callbacks to them by address.
//
// The BME280 keeps real calibration constants (the datasheet's example set plus typical
// humidity ones) and turns the temperature/pressure/humidity a test sets into the raw ADC
// values that compensate back to them, by searching the datasheet's own integer formulas
// (implemented here with BigInt, independently of the firmware's C).

import { I2CMode } from 'rp2040js';

// ---- BME280 ---------------------------------------------------------------------------------

export const BME280_CAL = Object.freeze({
  T1: 27504, T2: 26435, T3: -1000,
  P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
  H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
});

const B = BigInt;

// Datasheet 4.2.3, "BME280_compensate_T_int32": returns { t: 0.01 degC, tFine }.
export function bmeCompT(adcT, c = BME280_CAL) {
  const a = B(adcT);
  const var1 = (((a >> 3n) - (B(c.T1) << 1n)) * B(c.T2)) >> 11n;
  const d = (a >> 4n) - B(c.T1);
  const var2 = (((d * d) >> 12n) * B(c.T3)) >> 14n;
  const tFine = var1 + var2;
  return { t: Number((tFine * 5n + 128n) >> 8n), tFine };
}

// "BME280_compensate_P_int64": Pa in Q24.8 (divide by 256).
export function bmeCompP(adcP, tFine, c = BME280_CAL) {
  let var1 = tFine - 128000n;
  let var2 = var1 * var1 * B(c.P6);
  var2 += (var1 * B(c.P5)) << 17n;
  var2 += B(c.P4) << 35n;
  var1 = ((var1 * var1 * B(c.P3)) >> 8n) + ((var1 * B(c.P2)) << 12n);
  var1 = (((1n << 47n) + var1) * B(c.P1)) >> 33n;
  if (var1 === 0n) return 0;
  let p = 1048576n - B(adcP);
  p = (((p << 31n) - var2) * 3125n) / var1; // BigInt division truncates, as C does
  var1 = (B(c.P9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = (B(c.P8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (B(c.P7) << 4n);
  return Number(p);
}

// "bme280_compensate_H_int32": %RH in Q22.10 (divide by 1024).
export function bmeCompH(adcH, tFine, c = BME280_CAL) {
  let v = tFine - 76800n;
  v = ((((B(adcH) << 14n) - (B(c.H4) << 20n) - B(c.H5) * v) + 16384n) >> 15n) *
      (((((((v * B(c.H6)) >> 10n) * (((v * B(c.H3)) >> 11n) + 32768n)) >> 10n) + 2097152n) *
        B(c.H2) + 8192n) >> 14n);
  v -= ((((v >> 15n) * (v >> 15n)) >> 7n) * B(c.H1)) >> 4n;
  if (v < 0n) v = 0n;
  if (v > 419430400n) v = 419430400n;
  return Number(v >> 12n);
}

// Smallest x in [lo, hi] with f(x) >= target for increasing f (or <= for decreasing).
function search(lo, hi, f, target, increasing) {
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const ok = increasing ? f(mid) >= target : f(mid) <= target;
    if (ok) hi = mid; else lo = mid + 1;
  }
  return lo;
}

export function bmeRawFor({ tempC, pressurePa, humidityPct }, c = BME280_CAL) {
  const adcT = search(0, (1 << 20) - 1, (x) => bmeCompT(x, c).t, Math.round(tempC * 100), true);
  const { tFine } = bmeCompT(adcT, c);
  const adcP = search(0, (1 << 20) - 1, (x) => bmeCompP(x, tFine, c), pressurePa * 256, false);
  const adcH = search(0, 65535, (x) => bmeCompH(x, tFine, c), Math.round(humidityPct * 1024), true);
  return { adcT, adcP, adcH };
}

// What a correct driver reports for the raw values: the expected firmware output.
export function bmeExpected(raw, c = BME280_CAL) {
  const { t, tFine } = bmeCompT(raw.adcT, c);
  return {
    tempCentiC: t,
    pressureQ8: bmeCompP(raw.adcP, tFine, c),
    humidityQ10: bmeCompH(raw.adcH, tFine, c),
  };
}

export class BME280 {
  constructor(board, addr = 0x76, values = { tempC: 21.5, pressurePa: 101325, humidityPct: 40 }) {
    this.board = board;
    this.addr = addr;
    this.regs = new Uint8Array(256);
    this.values = { ...values };
    this.measureUs = 8000; // forced mode at 1x/1x/1x takes up to 9.3 ms; the driver waits 10
    this.measureDoneAt = -1;
    this.measurements = 0;
    this.loadCalibration();
    this.regs[0xd0] = 0x60;
    this.setValues(values);
  }

  loadCalibration(c = BME280_CAL) {
    const r = this.regs;
    const put16 = (at, v) => { r[at] = v & 0xff; r[at + 1] = (v >> 8) & 0xff; };
    put16(0x88, c.T1); put16(0x8a, c.T2); put16(0x8c, c.T3);
    put16(0x8e, c.P1); put16(0x90, c.P2); put16(0x92, c.P3); put16(0x94, c.P4);
    put16(0x96, c.P5); put16(0x98, c.P6); put16(0x9a, c.P7); put16(0x9c, c.P8); put16(0x9e, c.P9);
    r[0xa1] = c.H1;
    put16(0xe1, c.H2);
    r[0xe3] = c.H3;
    r[0xe4] = (c.H4 >> 4) & 0xff;
    r[0xe5] = (c.H4 & 0x0f) | ((c.H5 & 0x0f) << 4);
    r[0xe6] = (c.H5 >> 4) & 0xff;
    r[0xe7] = c.H6 & 0xff;
  }

  setValues(v) {
    Object.assign(this.values, v);
    this.raw = bmeRawFor(this.values);
  }

  latch() {
    const { adcT, adcP, adcH } = this.raw;
    const r = this.regs;
    r[0xf7] = (adcP >> 12) & 0xff; r[0xf8] = (adcP >> 4) & 0xff; r[0xf9] = (adcP & 0xf) << 4;
    r[0xfa] = (adcT >> 12) & 0xff; r[0xfb] = (adcT >> 4) & 0xff; r[0xfc] = (adcT & 0xf) << 4;
    r[0xfd] = (adcH >> 8) & 0xff; r[0xfe] = adcH & 0xff;
  }

  tick() {
    if (this.measureDoneAt >= 0 && this.board.timeUs() >= this.measureDoneAt) {
      this.measureDoneAt = -1;
      this.latch();
      this.measurements++;
      this.regs[0xf4] &= ~0x03; // back to sleep mode
    }
  }

  start() { this.tick(); this.phase = 'addr'; }

  write(byte) {
    if (this.phase === 'addr') {
      this.ptr = byte;
      this.phase = 'data';
      return true;
    }
    // Writes come as (register, value) pairs after the first register address.
    const reg = this.ptr;
    if (reg === 0xe0 && byte === 0xb6) {
      this.regs.fill(0, 0xf2, 0xff);
      this.regs[0xd0] = 0x60;
    } else if (reg >= 0xf2 && reg <= 0xf5) {
      this.regs[reg] = byte;
      if (reg === 0xf4 && (byte & 0x03) !== 0) {
        this.measureDoneAt = this.board.timeUs() + this.measureUs;
      }
    }
    this.phase = 'addr';
    return true;
  }

  read() {
    this.tick();
    if (this.ptr === 0xf3) {
      return this.measureDoneAt >= 0 ? 0x08 : 0x00; // bit 3: measuring
    }
    const v = this.regs[this.ptr];
    this.ptr = (this.ptr + 1) & 0xff;
    return v;
  }

  stop() {}
}

// ---- SHT3x ----------------------------------------------------------------------------------

export function sht3xCrc(bytes) {
  let crc = 0xff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

export function sht3xRawFor({ tempC, humidityPct }) {
  const clamp = (v) => Math.max(0, Math.min(65535, Math.round(v)));
  return { st: clamp(((tempC + 45) * 65535) / 175), srh: clamp((humidityPct * 65535) / 100) };
}

export class SHT3x {
  constructor(board, addr = 0x44, values = { tempC: 22.0, humidityPct: 50 }) {
    this.board = board;
    this.addr = addr;
    this.values = { ...values };
    this.measureUs = 15000;
    this.readyAt = -1;
    this.out = [];
    this.cmd = [];
    this.corruptCrc = false;
    this.measurements = 0;
  }

  setValues(v) { Object.assign(this.values, v); }

  // A measuring SHT3x does not acknowledge a read header.
  acceptsRead() {
    return this.readyAt >= 0 && this.board.timeUs() >= this.readyAt;
  }

  start() { this.cmd = []; }

  write(byte) {
    this.cmd.push(byte);
    if (this.cmd.length === 2) {
      const c = (this.cmd[0] << 8) | this.cmd[1];
      if ((c & 0xff00) === 0x2400 || (c & 0xff00) === 0x2c00) {
        this.readyAt = this.board.timeUs() + this.measureUs;
        const { st, srh } = sht3xRawFor(this.values);
        const t = [st >> 8, st & 0xff];
        const h = [srh >> 8, srh & 0xff];
        const crcT = sht3xCrc(t) ^ (this.corruptCrc ? 0x5a : 0);
        this.out = [...t, crcT, ...h, sht3xCrc(h)];
        this.measurements++;
      }
    }
    return true;
  }

  read() {
    return this.out.length ? this.out.shift() : 0xff;
  }

  stop() {}
}

// ---- the bus --------------------------------------------------------------------------------

export class I2CBus {
  constructor(board) {
    this.board = board;
    this.devices = new Map();
    this.nack = false; // every device stops acknowledging (a sensor gone / bus problem)
    this.log = [];
  }

  add(dev) {
    this.devices.set(dev.addr, dev);
    return dev;
  }

  attach(i2c) {
    let cur = null;
    i2c.onStart = () => i2c.completeStart();
    i2c.onConnect = (addr, mode) => {
      const dev = this.devices.get(addr);
      let ack = !!dev && !this.nack;
      if (ack) dev.start();
      if (ack && mode === I2CMode.Read && dev.acceptsRead && !dev.acceptsRead()) ack = false;
      cur = ack ? dev : null;
      this.log.push({ addr, read: mode === I2CMode.Read, ack });
      i2c.completeConnect(ack);
    };
    i2c.onWriteByte = (v) => i2c.completeWrite(cur ? cur.write(v) : false);
    i2c.onReadByte = () => i2c.completeRead(cur ? cur.read() : 0xff);
    i2c.onStop = () => {
      if (cur) cur.stop();
      cur = null;
      i2c.completeStop();
    };
  }
}
