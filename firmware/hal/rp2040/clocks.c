/*
 * clocks.c - clock tree bring-up: XOSC 12 MHz -> PLL_SYS 125 MHz (clk_sys, clk_peri) and
 * PLL_USB 48 MHz (clk_usb); clk_ref = XOSC, which also drives the watchdog tick that the
 * TIMER counts in microseconds.
 *
 * Order matters: clk_sys and clk_ref are moved to glitchless sources (clk_ref, ROSC) before
 * the PLLs they might be running from are reset, and only switched to their final sources once
 * the PLLs have locked.
 */
#include "rp2040.h"
#include "rp2040_regs.h"

/* Every wait below is bounded: a part that never becomes ready leaves us on the slow but
 * working ROSC rather than hanging before the watchdog is even configured. */
#define CLOCK_SPIN_LIMIT 1000000u

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
    /* STARTUP.DELAY counts 256 XOSC cycles: ~1 ms at 12 MHz. */
    REG(XOSC_STARTUP) = (RP2040_XOSC_HZ / 1000u + 128u) / 256u;
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
    if (!xosc_start()) {
        return;
    }
    /* Off the aux muxes before touching the PLLs behind them. */
    hw_clear_bits(CLK_SYS_CTRL, CLK_SYS_CTRL_SRC_BITS);
    (void)wait_set(CLK_SYS_SELECTED, 1u);
    hw_clear_bits(CLK_REF_CTRL, CLK_REF_CTRL_SRC_BITS);
    (void)wait_set(CLK_REF_SELECTED, 1u);

    hw_set_bits(RESETS_RESET, RESET_PLL_SYS | RESET_PLL_USB);
    rp2040_unreset(RESET_PLL_SYS | RESET_PLL_USB);
    /* 12 * 125 = 1500 MHz / (6 * 2) = 125 MHz; 12 * 100 = 1200 MHz / (5 * 5) = 48 MHz. */
    bool sys_ok = pll_start(PLL_SYS_BASE, 125u, 6u, 2u);
    bool usb_ok = pll_start(PLL_USB_BASE, 100u, 5u, 5u);

    /* clk_ref = XOSC / 1 */
    REG(CLK_REF_DIV) = 1u << CLK_DIV_INT_LSB;
    hw_write_masked(CLK_REF_CTRL, CLK_REF_CTRL_SRC_XOSC, CLK_REF_CTRL_SRC_BITS);
    (void)wait_set(CLK_REF_SELECTED, 1u << CLK_REF_CTRL_SRC_XOSC);

    if (sys_ok) {
        /* clk_sys = PLL_SYS / 1, via the aux mux (glitchless switch) */
        REG(CLK_SYS_DIV) = 1u << CLK_DIV_INT_LSB;
        hw_write_masked(CLK_SYS_CTRL, CLK_SYS_AUXSRC_PLL_SYS << CLK_CTRL_AUXSRC_LSB,
                        CLK_CTRL_AUXSRC_BITS);
        hw_write_masked(CLK_SYS_CTRL, CLK_SYS_CTRL_SRC_AUX, CLK_SYS_CTRL_SRC_BITS);
        (void)wait_set(CLK_SYS_SELECTED, 1u << CLK_SYS_CTRL_SRC_AUX);
    }
    if (usb_ok) {
        REG(CLK_USB_CTRL) = 0; /* stop before changing the aux source */
        REG(CLK_USB_DIV) = 1u << CLK_DIV_INT_LSB;
        REG(CLK_USB_CTRL) = CLK_CTRL_ENABLE_BITS | (CLK_USB_AUXSRC_PLL_USB << CLK_CTRL_AUXSRC_LSB);
    }
    REG(CLK_PERI_CTRL) = 0;
    REG(CLK_PERI_CTRL) = CLK_CTRL_ENABLE_BITS | (CLK_PERI_AUXSRC_CLK_SYS << CLK_CTRL_AUXSRC_LSB);

    /* Watchdog tick = clk_ref / 12 = 1 MHz: the TIMER's microsecond. */
    REG(WATCHDOG_TICK) = WATCHDOG_TICK_ENABLE | (RP2040_XOSC_HZ / 1000000u);
}
