// env.mjs - what every emulator scenario needs before it can run, checked without importing
// rp2040js (so a missing node_modules is a clear skip, not an import error).
// Exit code 77 = skipped (ctest SKIP_RETURN_CODE).
import { existsSync, readFileSync } from 'node:fs';

export const SKIP = 77;

export function emuFirmware() {
  const nm = new URL('../node_modules/rp2040js/package.json', import.meta.url);
  if (!existsSync(nm)) {
    console.log('SKIP: tests/emu/node_modules is missing; run `npm ci` in tests/emu ' +
      '(tools/setup.sh does it)');
    process.exit(SKIP);
  }
  const fw = process.env.PICOD_FW_EMU;
  if (!fw || !existsSync(fw)) {
    console.error(`error: PICOD_FW_EMU must name the emulator firmware image (got '${fw}'); ` +
      'build the firmware first (cmake --build <build> --target picod_firmware)');
    process.exit(1);
  }
  const info = fw.replace(/\.bin$/, '.info');
  if (existsSync(info) && /app=stub/.test(readFileSync(info, 'utf8'))) {
    console.log('SKIP: the firmware was linked with the stub app_main ' +
      '(firmware/core/app.c missing or PICOD_FW_STUB_APP=ON): no protocol to test');
    process.exit(SKIP);
  }
  return fw;
}
