// scenario.mjs - a booted board with the standard test wiring: BME280 at 0x76, SHT3x at 0x44,
// a protocol client, and helpers the scenario tests share.
import { EmuBoard } from './board.mjs';
import { BME280, SHT3x } from './devices.mjs';
import { ProtoClient } from './client.mjs';
import { MSG, helloReq, decodeHelloAck } from './proto.mjs';

export const TEST_BOARD_ID = 'c0ffee00d00d0001';

// silicon: EmuBoard's silicon models (lib/board.mjs), e.g. { xosc: 'dead', tick: true }.
export function bootBoard(firmware, { boardId = TEST_BOARD_ID, sensors = true, silicon } = {}) {
  const board = new EmuBoard({ firmware, boardId, silicon });
  const devs = {};
  if (sensors) {
    devs.bme = board.bus.add(new BME280(board, 0x76,
      { tempC: 21.5, pressurePa: 101325, humidityPct: 40 }));
    devs.sht = board.bus.add(new SHT3x(board, 0x44, { tempC: 22.25, humidityPct: 55.5 }));
  }
  const client = new ProtoClient(board);
  return { board, client, ...devs };
}

export function hello(client, timeoutMs = 5000, session = 0) {
  return decodeHelloAck(client.request(MSG.HELLO, helloReq(timeoutMs, session),
    { timeoutMs: 1500 }));
}

// Let the board boot and finish its start-up bus scan.
export function settle(board, ms = 300) {
  board.run(ms * 1000);
}
