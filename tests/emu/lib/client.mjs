// client.mjs - a protocol client for EmuBoard's UART link, driving the emulator while it waits.

import { FrameDecoder, encodeFrame, MSG, ACK, decodeError } from './proto.mjs';

export class ProtoError extends Error {
  constructor(req, err) {
    super(`request 0x${req.toString(16)} failed: error code ${err.code} (detail ${err.detail})`);
    this.code = err.code;
    this.detail = err.detail;
  }
}

export class ProtoClient {
  constructor(board) {
    this.board = board;
    this.decoder = new FrameDecoder();
    this.seq = 1;
    this.responses = new Map(); // seq -> frame
    this.events = [];           // { tUs, type, seq, body }
    this.badFrames = 0;
    board.onLinkByte((b) => this.onByte(b));
  }

  onByte(b) {
    const f = this.decoder.push(b);
    if (!f) return;
    if (f.error) {
      this.badFrames++;
      return;
    }
    if (f.type >= 0x40 && f.type <= 0x7f) {
      this.events.push({ tUs: this.board.timeUs(), ...f });
    } else {
      this.responses.set(f.seq, f);
    }
  }

  send(type, body = []) {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    this.board.writeLink([0, ...encodeFrame(type, seq, body)]);
    return seq;
  }

  // Send a request and run the board until its answer; returns the ack body (Uint8Array).
  request(type, body = [], { timeoutMs = 1000 } = {}) {
    const seq = this.send(type, body);
    this.board.runUntil(() => this.responses.has(seq), { timeoutMs, stepUs: 100,
      what: `the answer to request 0x${type.toString(16)} (seq ${seq})` });
    const f = this.responses.get(seq);
    this.responses.delete(seq);
    if (f.type === MSG.ERROR) throw new ProtoError(type, decodeError(f.body));
    if (f.type !== ACK(type)) {
      throw new Error(`request 0x${type.toString(16)} answered with type 0x${f.type.toString(16)}`);
    }
    return f.body;
  }

  // Run until an event matching pred arrives after index `from` in this.events.
  waitEvent(pred, { timeoutMs = 2000, from = 0, what = 'event' } = {}) {
    let found = null;
    this.board.runUntil(() => {
      found = this.events.slice(from).find(pred) || null;
      return found !== null;
    }, { timeoutMs, stepUs: 500, what });
    return found;
  }
}
