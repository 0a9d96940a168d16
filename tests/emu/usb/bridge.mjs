#!/usr/bin/env node
// bridge.mjs - run the picod firmware in rp2040js and expose its USB CDC data on stdin/stdout,
// so `socat PTY,... EXEC:"node bridge.mjs --stdio"` gives a tty that picod opens like
// /dev/ttyACM0 (tools/emu-board.sh does exactly that). Logs go to stderr.
//
//   node bridge.mjs --stdio --firmware build/firmware/firmware.elf
//        [--control SOCK] [--ready-file PATH] [--speed X]
//
// Emulated time is paced to at most X times real time (default 1): an idle board (WFI) would
// otherwise race ahead, and a board whose clock runs faster than the host's makes timeouts
// meaningless. When the emulator is slower than real time it simply runs flat out.
// --control SOCK: a Unix stream socket taking picosim's text commands, one per line, each
// answered with `ok[ detail]` or `error <message>`: led, press, release, click [MS],
// set temp|humidity|pressure|sht-temp|sht-humidity V, nack on|off, garbage N, reset, stats, quit.
import net from 'node:net';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { EmuBoard } from './lib/board.mjs';

const log = (msg) => process.stderr.write(`bridge: ${msg}\n`);

function parseArgs(argv) {
  const o = { stdio: false, firmware: process.env.PICOD_FIRMWARE, control: null, readyFile: null, speed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--stdio') o.stdio = true;
    else if (a === '--firmware') o.firmware = val();
    else if (a === '--control') o.control = val();
    else if (a === '--ready-file') o.readyFile = val();
    else if (a === '--speed') o.speed = Number(val());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.stdio) throw new Error('--stdio is the only mode: the CDC data is on stdin/stdout');
  if (!o.firmware) throw new Error('--firmware PATH (or PICOD_FIRMWARE) is required');
  if (!existsSync(o.firmware)) throw new Error(`firmware ${o.firmware} does not exist`);
  if (!(o.speed > 0)) throw new Error('--speed must be a positive number');
  return o;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bridge: ${e.message}\n`);
  process.exit(2);
}

const board = new EmuBoard(opts.firmware, { log });
let clickReleaseAtUs = null;

function enumerate() {
  const r = board.enumerate();
  log(`configured: ${r.strings[r.device[14]]} / ${r.strings[r.device[15]]} serial ${board.serial}`);
}

enumerate();
if (!board.hasSensors) log('no sensor models (tests/emu/lib/devices.mjs missing): I2C bus is empty');

// ---- data: stdin -> bulk OUT, bulk IN -> stdout ---------------------------------------------
process.stdin.on('data', (d) => board.host.write(d));
process.stdin.on('end', () => shutdown('stdin closed'));

function flushOut() {
  const rx = board.host.received;
  if (rx.length > 0) {
    process.stdout.write(Buffer.from(rx.splice(0, rx.length)));
  }
}

// ---- paced run loop --------------------------------------------------------------------------
let wall0 = performance.now();
let emu0 = board.nowUs();
const SLICE_US = 20000;
let timer = null;

function resetPace() {
  wall0 = performance.now();
  emu0 = board.nowUs();
}

function slice() {
  timer = null;
  let allowed = emu0 + (performance.now() - wall0) * 1000 * opts.speed;
  if (allowed - board.nowUs() > 200000) {
    resetPace(); // fell behind (slow emulation): run flat out, do not try to catch up
    allowed = board.nowUs() + SLICE_US;
  }
  const target = Math.min(allowed, board.nowUs() + SLICE_US);
  if (clickReleaseAtUs !== null && board.nowUs() >= clickReleaseAtUs) {
    board.setButton(false);
    clickReleaseAtUs = null;
  }
  if (target > board.nowUs()) {
    const until = clickReleaseAtUs !== null ? () => board.nowUs() >= clickReleaseAtUs : () => false;
    if (board.run(until, target - board.nowUs()) === 'rebooted') {
      // What the host received before the reset was really sent (e.g. the REBOOT ack, which
      // the firmware waits to see taken before it resets): deliver it, as a real host would.
      flushOut();
      enumerate();
      resetPace();
    }
  }
  flushOut();
  const ahead = board.nowUs() - (emu0 + (performance.now() - wall0) * 1000 * opts.speed);
  timer = setTimeout(slice, ahead > 1000 ? Math.min(ahead / 1000, 20) : 0);
}

// ---- control socket ---------------------------------------------------------------------------
const SENSOR_KEYS = {
  temp: ['bme280', 'tempC'], humidity: ['bme280', 'humidityPct'], pressure: ['bme280', 'pressurePa'],
  'sht-temp': ['sht3x', 'tempC'], 'sht-humidity': ['sht3x', 'humidityPct'],
};

function command(line) {
  const [cmd, ...args] = line.trim().split(/\s+/);
  switch (cmd) {
    case 'led':
      return `ok ${board.led ? 'on' : 'off'}`;
    case 'press':
    case 'release':
      board.setButton(cmd === 'press');
      return 'ok';
    case 'click': {
      const ms = args.length ? Number(args[0]) : 100;
      if (!(ms > 0)) return 'error click: HOLD_MS must be a positive number';
      board.setButton(true);
      clickReleaseAtUs = board.nowUs() + ms * 1000;
      return 'ok';
    }
    case 'set': {
      const key = SENSOR_KEYS[args[0]];
      const v = Number(args[1]);
      if (!key || args.length !== 2 || !Number.isFinite(v)) {
        return 'error usage: set temp|humidity|pressure|sht-temp|sht-humidity VALUE';
      }
      if (!board.hasSensors) return 'error no sensor models in this bridge';
      board.sensors[key[0]].setValues({ [key[1]]: v });
      return 'ok';
    }
    case 'nack':
      if (args[0] !== 'on' && args[0] !== 'off') return 'error usage: nack on|off';
      if (!board.hasSensors) return 'error no sensor models in this bridge';
      board.bus.nack = args[0] === 'on';
      return 'ok';
    case 'garbage': {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 0 || n > 65536) return 'error usage: garbage N (0..65536)';
      process.stdout.write(Buffer.from(Array.from({ length: n }, () => (Math.random() * 256) | 0)));
      return 'ok';
    }
    case 'reset':
      board.reboot();
      board.host.received.length = 0;
      enumerate();
      resetPace();
      return 'ok';
    case 'stats':
      return `ok boots=${board.boots} board_us=${Math.round(board.nowUs())} serial=${board.serial}`;
    case 'quit':
      setImmediate(() => shutdown('quit'));
      return 'ok';
    default:
      return `error unknown command '${cmd}'`;
  }
}

let server = null;
if (opts.control) {
  if (existsSync(opts.control)) rmSync(opts.control);
  server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        let reply;
        try {
          reply = command(line);
        } catch (e) {
          reply = `error ${e.message}`;
        }
        sock.write(`${reply}\n`);
      }
    });
    sock.on('error', () => {});
  });
  server.listen(opts.control);
}

function shutdown(why) {
  log(`exiting: ${why}`);
  if (timer) clearTimeout(timer);
  flushOut();
  if (server) {
    server.close();
    if (existsSync(opts.control)) rmSync(opts.control);
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

const ready = () => {
  if (opts.readyFile) writeFileSync(opts.readyFile, `serial=${board.serial}\n`);
  log(`ready serial=${board.serial}`);
  slice();
};
if (server) server.on('listening', ready);
else ready();
