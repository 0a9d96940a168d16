// No lost wake-ups: a request that reaches the board while it is deciding to sleep must be
// answered at once, not at the next timer wake-up (the heartbeat LED's 100 ms step, the
// link task's 1 s tick). Hundreds of PING round trips, each sent a few cycles later relative
// to the board's previous answer than the one before, so the request's interrupt lands at
// every point of the board's "nothing to do -> WFI" path at least once. Everything is measured
// in emulated time.
//   UART: firmware-emu (tests/emu/lib/board.mjs).
//   USB:  the product image firmware.elf when it is built with the USB link (the bulk OUT
//         interrupt has no port-side wake flag of its own: the core's idle protocol is all
//         that stands between it and a 100 ms stall).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { MSG, ACK, FrameDecoder, encodeFrame, helloReq } = await import('./lib/proto.mjs');

const ROUND_TRIPS = 400;
const PHASE_STEP_CYCLES = 3; // 400 x 3 = 1200 cycles: longer than the dispatch + idle path
const BOUND_US = 3000;       // far below the 100 ms heartbeat step that a lost wake-up waits for

// Round trips on an abstract link: send(bytes), step() runs one instruction (or a sleep
// step), frames() returns decoded frames seen so far, nowUs() emulated time.
function roundTrips(link, label) {
  const worst = { us: 0, i: -1 };
  let seq = 100;
  for (let i = 0; i < ROUND_TRIPS; i++) {
    // Vary the phase: let the board run a growing number of cycles after its last answer.
    const c0 = link.cycles();
    while (link.cycles() - c0 < i * PHASE_STEP_CYCLES) link.step();
    const s = seq++;
    const t0 = link.nowUs();
    link.send([0, ...encodeFrame(MSG.PING, s, [i & 0xff, 0x5a])]);
    for (;;) {
      const f = link.frames().find((x) => x.seq === s);
      if (f) {
        assert.equal(f.type, ACK(MSG.PING), `${label}: PING ${i} answered with 0x${f.type.toString(16)}`);
        break;
      }
      const waited = link.nowUs() - t0;
      if (waited > 200_000) {
        assert.fail(`${label}: PING ${i} (phase ${i * PHASE_STEP_CYCLES} cycles) not answered ` +
          `within 200 ms of board time`);
      }
      link.step();
    }
    const us = link.nowUs() - t0;
    if (us > worst.us) Object.assign(worst, { us, i });
  }
  return worst;
}

test('UART: every PING is answered promptly, whatever the phase against the idle path', () => {
  const { board, client } = bootBoard(fw, { sensors: false });
  settle(board, 50);
  hello(client, 60000);
  board.run(20_000);
  const frames = [];
  const dec = new FrameDecoder();
  board.onLinkByte((b) => {
    const f = dec.push(b);
    if (f && !f.error) frames.push(f);
  });
  const link = {
    send: (bytes) => board.writeLink(bytes),
    step: () => board.step(),
    cycles: () => board.totalCycles + board.sleptCycles,
    nowUs: () => board.timeUs(),
    frames: () => frames.splice(0),
  };
  // frames() drains: keep what was not ours (events) out of the way.
  const worst = roundTrips(link, 'uart');
  console.log(`uart: worst round trip ${worst.us.toFixed(1)} us (PING ${worst.i})`);
  assert.ok(worst.us < BOUND_US,
    `uart: PING ${worst.i} took ${worst.us.toFixed(1)} us (bound ${BOUND_US} us): a lost wake-up`);
});

// ---- USB -------------------------------------------------------------------------------------
const usbElf = fw.replace(/firmware-emu\.bin$/, 'firmware.elf');
const usbInfo = usbElf.replace(/\.elf$/, '.info');
const usbSkip = !existsSync(usbInfo) || !/link=usb/.test(readFileSync(usbInfo, 'utf8'))
  ? 'firmware.elf is not built with the USB link' : false;

test('USB: every PING is answered promptly, whatever the phase against the idle path',
  { skip: usbSkip }, async () => {
    const { EmuBoard } = await import('./usb/lib/board.mjs');
    const board = new EmuBoard(usbElf);
    board.enumerate();
    const { mcu, host } = board;
    const { core, clock } = mcu;
    let cycles = 0;
    const step = () => {
      if (core.waiting) {
        // Sleeping: a pending enabled interrupt ends WFI even with PRIMASK set (ARMv6-M B1.5.19);
        // rp2040js only wakes on a *new* interrupt, so model the rest here.
        if (core.pendingInterrupts & core.enabledInterrupts) {
          core.waiting = false;
          core.interruptsUpdated = true;
          return;
        }
        const dt = Math.max(8, Math.min(clock.nanosToNextAlarm || 1000, 1000));
        clock.tick(dt);
        cycles += dt / 8;
        return;
      }
      const c = core.executeInstruction();
      cycles += c;
      clock.tick(c * 8);
    };
    const dec = new FrameDecoder();
    const frames = [];
    const link = {
      send: (bytes) => host.write(bytes),
      step,
      cycles: () => cycles,
      nowUs: () => clock.nanos / 1000,
      frames: () => {
        for (const b of host.take(host.received.length)) {
          const f = dec.push(b);
          if (f && !f.error) frames.push(f);
        }
        return frames.splice(0);
      },
    };
    // HELLO first (the host watchdog is armed by it; 60 s keeps it out of the way).
    host.write([0, ...encodeFrame(MSG.HELLO, 1, helloReq(60000))]);
    const t0 = link.nowUs();
    for (let got = []; !got.find((f) => f.seq === 1);) {
      got = got.concat(link.frames());
      if (link.nowUs() - t0 > 500_000) assert.fail('usb: no HELLO answer');
      step();
    }
    const worst = roundTrips(link, 'usb');
    console.log(`usb: worst round trip ${worst.us.toFixed(1)} us (PING ${worst.i})`);
    assert.ok(worst.us < BOUND_US,
      `usb: PING ${worst.i} took ${worst.us.toFixed(1)} us (bound ${BOUND_US} us): a lost wake-up`);
  });
