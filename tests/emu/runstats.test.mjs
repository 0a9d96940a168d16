// runstats.test.mjs - the scheduler's run statistics as GET_TASK_STATS reports them, on the
// image the test is given: the product's (counted) or one built with CONFIG_SCHED_RUN_STATS=0
// (firmware-emu-nostats: the tasks are listed with their names and states, every count 0).
// The other scenarios run on the latter too (tests/emu/CMakeLists.txt): it is a working board.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { emuFirmware } from './lib/env.mjs';

const fw = emuFirmware();
const { bootBoard, hello, settle } = await import('./lib/scenario.mjs');
const { MSG, decodeTaskStats } = await import('./lib/proto.mjs');
const info = fw.replace(/\.bin$/, '.info');
const counted = !(existsSync(info) && /CONFIG_SCHED_RUN_STATS=0/.test(readFileSync(info, 'utf8')));

test(`GET_TASK_STATS ${counted ? 'counts every task\'s runs' : 'lists the tasks, all counts 0'}`, () => {
  const { board, client } = bootBoard(fw);
  settle(board, 20);
  hello(client);
  settle(board, 500); // the heartbeat LED, the sensors' polls, the link: half a second of runs
  const tasks = [];
  for (let i = 0; i < 8; i++) {
    const s = decodeTaskStats(client.request(MSG.GET_TASK_STATS, [i]));
    if (s.name === 'idle') break;
    tasks.push(s);
  }
  const names = tasks.map((t) => t.name);
  for (const n of ['link', 'led']) assert.ok(names.includes(n), `a task named ${n} (${names})`);
  for (const t of tasks) {
    if (counted) {
      assert.ok(t.runs > 0, `${t.name} ran (${t.runs} runs)`);
      assert.ok(t.maxUs <= t.totalUs, `${t.name}: longest run within the total`);
    } else {
      assert.deepEqual([t.runs, t.totalUs, t.maxUs, t.maxLateUs], [0, 0, 0, 0], t.name);
    }
  }
  if (counted) {
    const link = tasks.find((t) => t.name === 'link');
    assert.ok(link.totalUs > 0, 'the link task, which answered these requests, took time');
  }
});
