// elf.mjs - the symbol table of a 32-bit little-endian ELF (function addresses for tests that
// act at a given instruction, e.g. a fault at the entry of a boot function).
import { readFileSync } from 'node:fs';

export function elfSymbols(path) {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 1 || b[5] !== 1) {
    throw new Error(`${path}: not a 32-bit little-endian ELF file`);
  }
  const shoff = b.readUInt32LE(32);
  const shentsize = b.readUInt16LE(46);
  const shnum = b.readUInt16LE(48);
  const sec = (i) => {
    const o = shoff + i * shentsize;
    return { type: b.readUInt32LE(o + 4), offset: b.readUInt32LE(o + 16),
      size: b.readUInt32LE(o + 20), link: b.readUInt32LE(o + 24) };
  };
  const syms = new Map();
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (s.type !== 2) continue; // SHT_SYMTAB
    const str = sec(s.link);
    for (let o = s.offset; o < s.offset + s.size; o += 16) {
      const nameOff = b.readUInt32LE(o);
      let end = str.offset + nameOff;
      while (b[end] !== 0) end++;
      const name = b.toString('latin1', str.offset + nameOff, end);
      if (name) syms.set(name, b.readUInt32LE(o + 4));
    }
  }
  return syms;
}
