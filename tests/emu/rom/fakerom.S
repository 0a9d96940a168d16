/*
 * fakerom.S - the part of the RP2040 bootrom the firmware calls, for the emulator (the npm
 * rp2040js has no bootrom). At 0x00000000: the magic 'M' 'u' 1 at 0x10, the function table
 * pointer at 0x14, the table lookup function at 0x18 (the real bootrom's layout, datasheet
 * 2.8.3), and one function, reset_usb_boot ('U','B'). It writes SCRATCH0/1 like the real one
 * (pico-bootrom bootrom_main.c) and then executes BKPT 0xb7: the harness (tests/emu/lib/board.mjs
 * bootromReboot) plays the rest - the reboot into USB boot, the UF2 copy and the bootrom's
 * watchdog-timeout reboot into the flash image. The flash functions ('IF', 'EX', 'FC', 'CX')
 * are absent, so the firmware's board-ID read falls back as it does without a bootrom.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .section .text
    .org 0x00
    .word 0x20042000          /* initial SP (unused: the harness starts from flash) */
    .word 0                   /* reset (unused) */
    .org 0x10
    .byte 'M', 'u', 1, 3      /* magic, version 1, ROM version 3 (B2's) */
    .hword func_table         /* 0x14 */
    .hword data_table         /* 0x16 */
    .hword table_lookup + 1   /* 0x18: Thumb */
    .org 0x40
func_table:
    .hword 0x4255             /* ROM_TABLE_CODE('U', 'B') = 'U' | 'B' << 8 */
    .hword reset_usb_boot + 1
    .hword 0, 0
data_table:
    .hword 0, 0

/* r0 = table of (u16 code, u16 address) pairs ending in code 0, r1 = code -> r0 = address or 0 */
    .thumb_func
table_lookup:
1:  ldrh r2, [r0]
    cmp r2, #0
    beq 2f
    cmp r2, r1
    beq 3f
    adds r0, #4
    b 1b
2:  movs r0, #0
    bx lr
3:  ldrh r0, [r0, #2]
    bx lr

/* reset_usb_boot(r0 = gpio activity pin mask, r1 = disable interface mask): never returns */
    .thumb_func
reset_usb_boot:
    ldr r2, =0x4005800c       /* WATCHDOG_SCRATCH0 */
    str r0, [r2]
    str r1, [r2, #4]          /* SCRATCH1 */
    bkpt #0xb7                /* the harness takes over */
4:  b 4b
    .ltorg
