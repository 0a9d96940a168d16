/*
 * board_id.c - the board's 8-byte unique ID: the flash chip's unique ID (W25Q080 command 4Bh,
 * "Read Unique ID": 4 dummy bytes, then 64 bits), read once at boot.
 *
 * Reading it means taking the flash out of XIP mode, so the exchange runs from SRAM with
 * interrupts masked, uses only bootrom routines and registers, and ends by re-running a RAM
 * copy of boot2 to restore exactly the XIP setup we booted with.
 *
 * Where that cannot work (rp2040js has no bootrom and no SSI command emulation) or the answer
 * is implausible (all 0x00 or all 0xFF), we fall back to, in order:
 *   1. an ID written by a test harness or a provisioning step at flash offset
 *      BOARD_ID_PAGE_OFFSET: the 8 ASCII bytes "PICODID1" then the 8-byte ID;
 *   2. a fixed ID, FALLBACK_ID below (shown as 7069636f64656d75, "picodemu").
 */
#include <string.h>

#include "rp2040.h"
#include "rp2040_regs.h"

#define FLASH_CMD_RUID      0x4bu
#define RUID_DUMMY_BYTES    4u
#define RUID_TOTAL_BYTES    (1u + RUID_DUMMY_BYTES + PROTO_BOARD_ID_LEN)
#define RUID_SPIN_LIMIT     100000u
#define BOARD_ID_PAGE_ADDR  (0x10000000u + 0x1ff000u)
#define BOARD_ID_PAGE_MAGIC "PICODID1"

static const uint8_t FALLBACK_ID[PROTO_BOARD_ID_LEN] = {'p', 'i', 'c', 'o', 'd', 'e', 'm', 'u'};

static uint8_t board_id[PROTO_BOARD_ID_LEN];

typedef void (*rom_void_fn)(void);

struct flash_rom {
    rom_void_fn connect_internal, exit_xip, flush_cache, enter_cmd_xip;
};

/* Runs with XIP off: SRAM only, no calls into flash (not even memcpy). */
static RP2040_RAMFUNC bool ruid_exchange(const struct flash_rom *rom, const uint32_t *boot2_copy,
                                         uint8_t out[PROTO_BOARD_ID_LEN])
{
    rom->connect_internal();
    rom->exit_xip();
    /* Drive chip select by hand so the whole command is one transaction. */
    REG(IO_QSPI_SS_CTRL) = (REG(IO_QSPI_SS_CTRL) & ~IO_QSPI_OUTOVER_BITS) |
                           (IO_QSPI_OUTOVER_LOW << IO_QSPI_OUTOVER_LSB);
    uint32_t tx = 0, rx = 0;
    for (uint32_t spin = 0; rx < RUID_TOTAL_BYTES && spin < RUID_SPIN_LIMIT; spin++) {
        uint32_t sr = REG(SSI_SR);
        /* Keep fewer than 14 bytes in flight so the 16-deep RX FIFO cannot overflow. */
        if (tx < RUID_TOTAL_BYTES && (sr & SSI_SR_TFNF_BITS) && tx - rx < 14u) {
            REG(SSI_DR0) = tx == 0 ? FLASH_CMD_RUID : 0u;
            tx++;
        }
        if (sr & SSI_SR_RFNE_BITS) {
            uint8_t b = (uint8_t)REG(SSI_DR0);
            if (rx >= 1u + RUID_DUMMY_BYTES) {
                out[rx - 1u - RUID_DUMMY_BYTES] = b;
            }
            rx++;
        }
    }
    REG(IO_QSPI_SS_CTRL) = (REG(IO_QSPI_SS_CTRL) & ~IO_QSPI_OUTOVER_BITS) |
                           (IO_QSPI_OUTOVER_HIGH << IO_QSPI_OUTOVER_LSB);
    rom->flush_cache();
    rom->enter_cmd_xip();
    REG(IO_QSPI_SS_CTRL) &= ~IO_QSPI_OUTOVER_BITS; /* back to the SSI's own chip select */
    ((rom_void_fn)((uintptr_t)boot2_copy | 1u))(); /* our XIP setup; returns (lr != 0) */
    return rx == RUID_TOTAL_BYTES;
}

static bool id_is_plausible(const uint8_t id[PROTO_BOARD_ID_LEN])
{
    bool all_ff = true, all_00 = true;
    for (unsigned i = 0; i < PROTO_BOARD_ID_LEN; i++) {
        all_ff = all_ff && id[i] == 0xffu;
        all_00 = all_00 && id[i] == 0x00u;
    }
    return !all_ff && !all_00;
}

static bool ruid_read(uint8_t out[PROTO_BOARD_ID_LEN])
{
    struct flash_rom rom = {
        (rom_void_fn)rp2040_rom_func(ROM_CODE('I', 'F')),
        (rom_void_fn)rp2040_rom_func(ROM_CODE('E', 'X')),
        (rom_void_fn)rp2040_rom_func(ROM_CODE('F', 'C')),
        (rom_void_fn)rp2040_rom_func(ROM_CODE('C', 'X')),
    };
    if (!rom.connect_internal || !rom.exit_xip || !rom.flush_cache || !rom.enter_cmd_xip) {
        return false;
    }
    uint32_t boot2_copy[64];
    memcpy(boot2_copy, (const void *)0x10000000u, sizeof(boot2_copy));
    uint32_t irq = hal_irq_save();
    bool ok = ruid_exchange(&rom, boot2_copy, out);
    hal_irq_restore(irq);
    return ok && id_is_plausible(out);
}

void rp2040_board_id_init(void)
{
    uint8_t id[PROTO_BOARD_ID_LEN];
    if (ruid_read(id)) {
        memcpy(board_id, id, sizeof(board_id));
        return;
    }
    const uint8_t *page = (const uint8_t *)BOARD_ID_PAGE_ADDR;
    if (memcmp(page, BOARD_ID_PAGE_MAGIC, 8) == 0 && id_is_plausible(page + 8)) {
        memcpy(board_id, page + 8, sizeof(board_id));
        return;
    }
    memcpy(board_id, FALLBACK_ID, sizeof(board_id));
}

void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN])
{
    memcpy(id, board_id, PROTO_BOARD_ID_LEN);
}
