/*
 * boot2.S - second-stage boot loader for the first 256 bytes of flash.
 *
 * The bootrom copies flash bytes 0..255 to SRAM 0x20041f00, checks the CRC-32/MPEG-2 at
 * bytes 252..255 and jumps here with lr = 0. We configure the XIP SSI for the plain serial
 * 03h READ command (any SPI NOR flash answers it, the Pico's W25Q080 included; see
 * docs/RP2040.md for why not 0xEB quad), then hand over to the vector table that follows us
 * at 0x10000100. Called from code (lr != 0) we just reconfigure XIP and return.
 *
 * Position independent: only pc-relative literal loads. The CRC is appended at build time by
 * tools/uf2 (picod-uf2 boot2), so this code must stay within 252 bytes (checked there).
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .equ SSI_BASE, 0x18000000
    .equ SSI_CTRLR0, 0x00
    .equ SSI_CTRLR1, 0x04
    .equ SSI_SSIENR, 0x08
    .equ SSI_BAUDR, 0x14
    .equ SSI_SPI_CTRLR0, 0xf4
    .equ PPB_VTOR, 0xe000ed08
    .equ VECTORS, 0x10000100

    /* CTRLR0: SPI_FRF (22:21) = 0 standard, DFS_32 (20:16) = 31 (32-bit frames),
     * TMOD (9:8) = 3 EEPROM read (send instruction + address, then receive). */
    .equ CTRLR0_XIP, (31 << 16) | (3 << 8)
    /* SPI_CTRLR0: XIP_CMD (31:24) = 0x03, INST_L (9:8) = 2 (8-bit instruction),
     * ADDR_L (5:2) = 6 (24-bit address), TRANS_TYPE (1:0) = 0 (all serial). */
    .equ SPI_CTRLR0_XIP, (0x03 << 24) | (2 << 8) | (6 << 2)
    /* clk_sys / 4: 03h is specified to 50 MHz on the W25Q080; 125 MHz / 4 = 31.25 MHz. */
    .equ CLKDIV, 4

    .section .boot2.text, "ax"
    .global picod_boot2
    .type picod_boot2, %function
picod_boot2:
    push {lr}
    ldr r3, =SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]   /* registers below only change while disabled */
    movs r1, #CLKDIV
    str r1, [r3, #SSI_BAUDR]
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1]   /* NDF = 0: one 32-bit frame per XIP request */
    ldr r1, =SPI_CTRLR0_XIP
    ldr r2, =(SSI_BASE + SSI_SPI_CTRLR0)
    str r1, [r2]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]

    pop {r0}
    cmp r0, #0
    beq 1f
    bx r0                        /* called from code: return */
1:
    ldr r0, =VECTORS             /* from the bootrom: enter the application */
    ldr r1, =PPB_VTOR
    str r0, [r1]
    ldmia r0!, {r1, r2}
    msr msp, r1
    bx r2

    .ltorg
    .size picod_boot2, . - picod_boot2
