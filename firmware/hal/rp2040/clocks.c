/*
 * clocks.c - clock tree bring-up: XOSC 12 MHz -> PLL_SYS 125 MHz (clk_sys, clk_peri) and
 * PLL_USB 48 MHz (clk_usb); clk_ref = XOSC, which also drives the watchdog tick that the
 * TIMER counts in microseconds. Then the frequency counter (FC0) measures what came out.
 *
 * Order matters: clk_sys and clk_ref are moved to glitchless sources (clk_ref, ROSC) before
 * the PLLs they might be running from are reset, and only switched to their final sources once
 * the PLLs have locked.
 *
 * When a part fails the fallback is real, not an early return: whatever is missing, clk_ref,
 * clk_sys and clk_peri run (from the ROSC if the crystal is dead, from the crystal if PLL_SYS
 * is) and the watchdog tick is fed from clk_ref, so the TIMER ticks and every bounded wait in
 * the firmware ends. The frequencies the rest of the port derives divisors from
 * (rp2040_clk_sys_hz, rp2040_clk_peri_hz) are the fallback's. USB needs 48 MHz: without
 * PLL_USB (or without the crystal) clk_usb stays off and hal_init shows the fault on the LED
 * (system.c). The faults are reported in HELLO and STATS (PROTO_CLK_*).
 */
#include "rp2040.h"
#include "rp2040_regs.h"

/* Every wait below is bounded. 1e6 polls is ~6e6 cycles: about 1 s on the ROSC at its
 * nominal 6.5 MHz, far beyond the XOSC's 6 ms start-up delay and the PLLs' lock time. */
#define CLOCK_SPIN_LIMIT 1000000u

/* XOSC start-up delay. STARTUP.DELAY counts units of 256 crystal cycles (14 bits); pico-sdk's
 * STARTUP_DELAY is ((XOSC_KHZ + 128) / 256) * PICO_XOSC_STARTUP_DELAY_MULTIPLIER, and its
 * default multiplier went from 1 to 6 (pico-sdk #2234 / PR #2245: the recommended crystal takes
 * ~6 ms to reach full swing; 1 ms caused cold-boot hangs reported by rp-hal, Zephyr, TinyGo).
 * STABLE only means this counter ran out, so it has to cover the real start-up. */
#ifndef PICOD_XOSC_STARTUP_MS
#define PICOD_XOSC_STARTUP_MS 6u
#endif
#define XOSC_STARTUP_DELAY ((RP2040_XOSC_HZ / 1000u + 128u) / 256u * PICOD_XOSC_STARTUP_MS)
_Static_assert(XOSC_STARTUP_DELAY * 256u / (RP2040_XOSC_HZ / 1000u) >= 6u,
               "the XOSC start-up delay must be at least 6 ms");
_Static_assert(XOSC_STARTUP_DELAY < (1u << 14), "XOSC STARTUP.DELAY is 14 bits");

/* The ROSC's nominal frequency (datasheet: 6.5 MHz typical, it varies with process, voltage
 * and temperature). Without a crystal nothing better is known: the TIMER's "microsecond" and
 * the UART baud rates are then only as good as this guess. */
#define ROSC_NOMINAL_HZ 6500000u

static struct {
    uint32_t ref_hz, sys_hz, peri_hz;
    uint8_t faults; /* PROTO_CLK_* */
} clk;

static bool wait_set(uint32_t addr, uint32_t mask)
{
    for (uint32_t i = 0; i < CLOCK_SPIN_LIMIT; i++) {
        if ((REG(addr) & mask) == mask) {
            return true;
        }
    }
    return false;
}

void rp2040_unreset(uint32_t mask)
{
    hw_clear_bits(RESETS_RESET, mask);
    (void)wait_set(RESETS_RESET_DONE, mask);
}

static bool xosc_start(void)
{
    REG(XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ;
    REG(XOSC_STARTUP) = XOSC_STARTUP_DELAY;
    hw_set_bits(XOSC_CTRL, XOSC_CTRL_ENABLE);
    return wait_set(XOSC_STATUS, XOSC_STATUS_STABLE);
}

/* VCO = 12 MHz * fbdiv (refdiv 1); out = VCO / (post1 * post2). */
static bool pll_start(uint32_t base, uint32_t fbdiv, uint32_t post1, uint32_t post2)
{
    REG(base + PLL_PWR) = PLL_PWR_PD | PLL_PWR_VCOPD | PLL_PWR_POSTDIVPD | (1u << 2);
    REG(base + PLL_CS) = 1u; /* REFDIV */
    REG(base + PLL_FBDIV_INT) = fbdiv;
    hw_clear_bits(base + PLL_PWR, PLL_PWR_PD | PLL_PWR_VCOPD);
    if (!wait_set(base + PLL_CS, PLL_CS_LOCK)) {
        return false;
    }
    REG(base + PLL_PRIM) = (post1 << PLL_PRIM_POSTDIV1_LSB) | (post2 << PLL_PRIM_POSTDIV2_LSB);
    hw_clear_bits(base + PLL_PWR, PLL_PWR_POSTDIVPD);
    return true;
}

void rp2040_clocks_init(void)
{
    REG(CLK_SYS_RESUS_CTRL) = 0;
    /* Park clk_sys on clk_ref and clk_ref on the ROSC (both glitchless muxes) before the
     * crystal or a PLL behind them is touched. */
    hw_clear_bits(CLK_SYS_CTRL, CLK_SYS_CTRL_SRC_BITS);
    (void)wait_set(CLK_SYS_SELECTED, 1u);
    hw_clear_bits(CLK_REF_CTRL, CLK_REF_CTRL_SRC_BITS);
    (void)wait_set(CLK_REF_SELECTED, 1u);
    REG(CLK_REF_DIV) = 1u << CLK_DIV_INT_LSB;
    REG(CLK_SYS_DIV) = 1u << CLK_DIV_INT_LSB;

    bool xosc_ok = xosc_start();
    bool sys_ok = false;
    bool usb_ok = false;
    if (xosc_ok) {
        hw_set_bits(RESETS_RESET, RESET_PLL_SYS | RESET_PLL_USB);
        rp2040_unreset(RESET_PLL_SYS | RESET_PLL_USB);
        /* 12 * 125 = 1500 MHz / (6 * 2) = 125 MHz; 12 * 100 = 1200 MHz / (5 * 5) = 48 MHz. */
        sys_ok = pll_start(PLL_SYS_BASE, 125u, 6u, 2u);
        usb_ok = pll_start(PLL_USB_BASE, 100u, 5u, 5u);
        /* clk_ref = XOSC / 1 */
        hw_write_masked(CLK_REF_CTRL, CLK_REF_CTRL_SRC_XOSC, CLK_REF_CTRL_SRC_BITS);
        (void)wait_set(CLK_REF_SELECTED, 1u << CLK_REF_CTRL_SRC_XOSC);
        clk.ref_hz = RP2040_XOSC_HZ;
    } else {
        /* No crystal: clk_ref stays on the ROSC (and the PLLs, which need the crystal as their
         * reference, stay off). */
        clk.faults |= PROTO_CLK_XOSC | PROTO_CLK_PLL_SYS | PROTO_CLK_PLL_USB;
        clk.ref_hz = ROSC_NOMINAL_HZ;
    }
    if (xosc_ok && !sys_ok) {
        clk.faults |= PROTO_CLK_PLL_SYS;
    }
    if (xosc_ok && !usb_ok) {
        clk.faults |= PROTO_CLK_PLL_USB;
    }

    if (sys_ok) {
        /* clk_sys = PLL_SYS / 1, via the aux mux (glitchless switch) */
        hw_write_masked(CLK_SYS_CTRL, CLK_SYS_AUXSRC_PLL_SYS << CLK_CTRL_AUXSRC_LSB,
                        CLK_CTRL_AUXSRC_BITS);
        hw_write_masked(CLK_SYS_CTRL, CLK_SYS_CTRL_SRC_AUX, CLK_SYS_CTRL_SRC_BITS);
        (void)wait_set(CLK_SYS_SELECTED, 1u << CLK_SYS_CTRL_SRC_AUX);
        clk.sys_hz = RP2040_CLK_SYS_HZ;
    } else {
        clk.sys_hz = clk.ref_hz; /* clk_sys stays on clk_ref (crystal or ROSC) */
    }
    REG(CLK_USB_CTRL) = 0; /* stop before changing the aux source */
    if (usb_ok) {
        REG(CLK_USB_DIV) = 1u << CLK_DIV_INT_LSB;
        REG(CLK_USB_CTRL) = CLK_CTRL_ENABLE_BITS | (CLK_USB_AUXSRC_PLL_USB << CLK_CTRL_AUXSRC_LSB);
    }
    /* clk_peri = clk_sys, whatever clk_sys runs from: UARTs and I2C keep a clock. */
    REG(CLK_PERI_CTRL) = 0;
    REG(CLK_PERI_CTRL) = CLK_CTRL_ENABLE_BITS | (CLK_PERI_AUXSRC_CLK_SYS << CLK_CTRL_AUXSRC_LSB);
    clk.peri_hz = clk.sys_hz;

    /* Watchdog tick = clk_ref / cycles ~ 1 MHz: the TIMER's microsecond (exact from the 12 MHz
     * crystal, the ROSC's nominal rate otherwise). Without it the TIMER does not count. */
    REG(WATCHDOG_TICK) = WATCHDOG_TICK_ENABLE | ((clk.ref_hz + 500000u) / 1000000u);
}

uint32_t rp2040_clk_sys_hz(void)
{
    return clk.sys_hz;
}

uint32_t rp2040_clk_peri_hz(void)
{
    return clk.peri_hz;
}

uint8_t rp2040_clock_faults(void)
{
    return clk.faults;
}

/* One measurement with FC0 (datasheet 2.15.6): the counter counts src for 2^interval us of
 * clk_ref, told clk_ref's frequency in kHz; RESULT is src in kHz (KHZ field, bits 29:5).
 * 256 us per clock, 5 clocks at boot: ~1.3 ms once, before any task runs. */
#define FC0_INTERVAL     8u
#define FC0_WAIT_US      2000u
#define FC0_RUNNING_BITS (1u << 8)
#define FC0_DONE_BITS    (1u << 4)

static uint32_t fc0_khz(uint32_t src)
{
    uint32_t start = hal_time_us();
    while (REG(CLK_FC0_STATUS) & FC0_RUNNING_BITS) {
        if (hal_time_us() - start > FC0_WAIT_US) {
            return 0;
        }
    }
    REG(CLK_FC0_REF_KHZ) = clk.ref_hz / 1000u;
    REG(CLK_FC0_INTERVAL) = FC0_INTERVAL;
    REG(CLK_FC0_MIN_KHZ) = 0;
    REG(CLK_FC0_MAX_KHZ) = 0xffffffffu;
    REG(CLK_FC0_SRC) = src; /* starts the measurement */
    start = hal_time_us();
    while (!(REG(CLK_FC0_STATUS) & FC0_DONE_BITS)) {
        if (hal_time_us() - start > FC0_WAIT_US) {
            return 0;
        }
    }
    return (REG(CLK_FC0_RESULT) & 0x3fffffe0u) >> 5;
}

static bool off_by_more_than_1pct(uint32_t khz, uint32_t want_hz)
{
    uint32_t want = want_hz / 1000u;
    uint32_t diff = khz > want ? khz - want : want - khz;
    return diff * 100u > want;
}

void rp2040_clocks_measure(proto_hw_info_t *hw)
{
    hw->clk_ref_khz = fc0_khz(FC0_SRC_CLK_REF);
    hw->clk_sys_khz = fc0_khz(FC0_SRC_CLK_SYS);
    hw->clk_peri_khz = fc0_khz(FC0_SRC_CLK_PERI);
    hw->clk_usb_khz = fc0_khz(FC0_SRC_CLK_USB);
    hw->rosc_khz = fc0_khz(FC0_SRC_ROSC);
    /* Against the crystal, what was set must be what runs. Without it clk_ref is the ROSC
     * measuring itself, which tells nothing: no verdict then. */
    if (!(clk.faults & PROTO_CLK_XOSC) && (off_by_more_than_1pct(hw->clk_sys_khz, clk.sys_hz) ||
                                           off_by_more_than_1pct(hw->clk_peri_khz, clk.peri_hz) ||
                                           (!(clk.faults & PROTO_CLK_PLL_USB) &&
                                            off_by_more_than_1pct(hw->clk_usb_khz, 48000000u)))) {
        clk.faults |= PROTO_CLK_MEASURE;
    }
    hw->clock_faults = clk.faults;
}
