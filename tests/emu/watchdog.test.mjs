// A hung task starves the watchdog; a HardFault is recorded and rebooted; both are reported in
// the next HELLO.
import test from 'node:test';
import assert from 'node:assert/strict';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { RESET_CAUSE, MSG, DEBUG_OP, debugReq, decodeTaskStats } = await import('./lib/proto.mjs');

test('watchdog fires when a task hangs, and HELLO then reports reset cause watchdog', () => {
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  const h0 = hello(client);
  assert.ok(h0.caps & (1 << 5), 'this image accepts DEBUG requests');
  client.send(MSG.DEBUG, debugReq(DEBUG_OP.HANG));
  const t0 = board.timeUs();
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 3000, stepUs: 1000,
    what: 'the watchdog reset' });
  const waitedMs = (board.resets[0].tUs - t0) / 1000;
  assert.equal(board.resets[0].reason, 'timer', 'the watchdog timer expired (not a forced reset)');
  assert.ok(waitedMs > 500 && waitedMs < 2100, `reset ${waitedMs.toFixed(0)} ms after the hang`);
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.WATCHDOG);
  assert.equal(h.boardId, h0.boardId);
  // The crash record names the hung task: DEBUG HANG spins inside the link task.
  assert.equal(h.crash.kind, 2, 'crash record: PROTO_FAULT_WATCHDOG');
  let linkIndex = -1;
  for (let i = 0; i < 8 && linkIndex < 0; i++) {
    if (decodeTaskStats(client.request(MSG.GET_TASK_STATS, [i])).name === 'link') linkIndex = i;
  }
  assert.ok(linkIndex >= 0, 'a task named link exists');
  assert.equal(h.crash.task, linkIndex, `crash record names the link task (${linkIndex})`);
});

test('a HardFault is recorded (kind, PC in flash) and the board reboots with cause fault', () => {
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  hello(client);
  client.send(MSG.DEBUG, debugReq(DEBUG_OP.FAULT));
  board.runUntil(() => board.resets.length === 1, { timeoutMs: 500, what: 'the fault reset' });
  assert.equal(board.resets[0].reason, 'force', 'the fault handler rebooted via the watchdog');
  assert.match(board.debugText, /HardFault pc=1[0-9a-f]{7}/);
  settle(board, 50);
  const h = hello(client);
  assert.equal(h.resetCause, RESET_CAUSE.FAULT);
  assert.equal(h.crash.kind, 1, 'crash record: HardFault');
  assert.ok(h.crash.pc >= 0x10000100 && h.crash.pc < 0x10200000 ||
            h.crash.pc >= 0x20000000 && h.crash.pc < 0x20042000,
            `crash PC 0x${h.crash.pc.toString(16)} is in code`);
});
