/*
 * usb_e5_rp2040.c - erratum RP2040-E5 (B0/B1 silicon only): after a bus reset the controller
 * waits for ~800 us of idle bus (line state J) before it counts as connected; behind a hub that
 * forwards other devices' full-speed traffic that may never come, and the device never
 * enumerates. The fix is pico-sdk's (pico_fix/rp2040_usb_device_enumeration, also TinyUSB's):
 * wait until the host ends the reset (SE0), then force J into the controller for 1 ms through
 * the USB debug mux on GPIO15, then give the PHY back.
 *
 * The pin. pico-sdk: "this requires us to use GPIO15 as there is no other way to force the input
 * path" - the debug mux (function 8) that feeds the controller's DP input exists on GPIO15 only,
 * so no other pin can be picked. GPIO15 is also our button (to ground, pad pull-up). While the
 * fix holds it (~1 ms, plus up to a few ms of waiting for the reset to end, after each bus
 * reset on B0/B1 only) the pin is tristated (output override LOW = output disabled), so a
 * pressed button cannot fight a driver, and its input is overridden HIGH (= released) - so
 * the button's edge interrupt is masked for that time and the latched edges are dropped
 * afterwards; a press that starts and ends inside the window is not seen (a bus reset happens
 * at enumeration, not while someone uses the button). Its control and pad registers are saved
 * and restored exactly. A board on B0/B1 silicon that needs every edge can move the button
 * (-DPICOD_PIN_BUTTON=14, any free GPIO). docs/USB.md, docs/BRINGUP.md.
 *
 * Timing runs on TIMER ALARM1 (its own interrupt), so the bus reset interrupt returns at once
 * and nothing of the core waits: poll SE0 every 1 ms (at most E5_SE0_POLLS), force J for 1 ms,
 * then wait for CONNECTED (at most E5_CONNECT_POLLS x 100 us) and restore.
 */
#include "rp2040.h"
#include "rp2040_regs.h"
/* usb_regs.h names these as offsets, rp2040_regs.h as addresses; this file uses neither. */
#undef RESETS_RESET
#undef RESETS_RESET_DONE
#include "usb_port.h"
#include "usb_regs.h"

#define E5_DP_PIN        15u /* fixed by the silicon, see above */
#define E5_FUNC_USB_MUX  8u
#define E5_SE0_POLLS     50u
#define E5_CONNECT_POLLS 50u
#define LS_SE0           0u
#define TIMER_ALARM1     (TIMER_BASE + 0x14u)
#define IRQ_TIMER1       1u
#define E5_EDGES         ((IO_IRQ_EDGE_LOW | IO_IRQ_EDGE_HIGH) << IO_IRQ_LSB(E5_DP_PIN))

static enum { E5_IDLE, E5_WAIT_SE0, E5_FORCE_J, E5_WAIT_CONNECT } state;
static uint32_t polls;
static uint32_t gpio_ctrl_prev, pad_prev, inte_prev;
static uint32_t applied_count;

static void alarm_in(uint32_t us)
{
    REG(TIMER_INTR) = 1u << 1;
    REG(TIMER_ALARM1) = REG(TIMER_TIMERAWL) + us;
}

static uint32_t line_state(void)
{
    return (*usb_reg(USB_SIE_STATUS) & USB_SIE_STATUS_LINE_STATE_BITS) >>
           USB_SIE_STATUS_LINE_STATE_LSB;
}

static void force_j(void)
{
    gpio_ctrl_prev = REG(IO_GPIO_CTRL(E5_DP_PIN));
    pad_prev = REG(PADS_GPIO(E5_DP_PIN));
    inte_prev = REG(IO_PROC0_INTE(E5_DP_PIN)) & E5_EDGES;
    hw_clear_bits(IO_PROC0_INTE(E5_DP_PIN), E5_EDGES); /* the button's edges, see above */
    /* Bus keep, output disabled, USB debug mux, input forced high: J is DP = 1 at full speed
     * (DM is gated off while GPIO16 is not on function 8). */
    REG(PADS_GPIO(E5_DP_PIN)) = pad_prev | PADS_PUE | PADS_PDE;
    REG(IO_GPIO_CTRL(E5_DP_PIN)) =
        (gpio_ctrl_prev &
         ~(IO_CTRL_FUNCSEL_BITS | (3u << IO_CTRL_OEOVER_LSB) | (3u << IO_CTRL_INOVER_LSB))) |
        E5_FUNC_USB_MUX | (IO_OVER_LOW << IO_CTRL_OEOVER_LSB) |
        (IO_OVER_HIGH << IO_CTRL_INOVER_LSB);
    /* Keep the DP pull-up on while the PHY is switched away, then switch to the GPIO path. */
    *usb_reg(USB_PHY_DIRECT + REG_ALIAS_SET) = USB_PHY_DIRECT_DP_PULLUP_EN_BITS;
    *usb_reg(USB_PHY_DIRECT_OV + REG_ALIAS_SET) = USB_PHY_DIRECT_OV_DP_PULLUP_EN_BITS;
    *usb_reg(USB_MUXING) = USB_MUXING_TO_DIGITAL_PAD_BITS | USB_MUXING_SOFTCON_BITS;
    state = E5_FORCE_J;
    alarm_in(1000u);
}

static void finish(void)
{
    *usb_reg(USB_MUXING) = USB_MUXING_TO_PHY_BITS | USB_MUXING_SOFTCON_BITS;
    *usb_reg(USB_PHY_DIRECT_OV + REG_ALIAS_CLR) = USB_PHY_DIRECT_OV_DP_PULLUP_EN_BITS;
    REG(IO_GPIO_CTRL(E5_DP_PIN)) = gpio_ctrl_prev;
    REG(PADS_GPIO(E5_DP_PIN)) = pad_prev;
    REG(IO_INTR(E5_DP_PIN)) = E5_EDGES; /* the overrides' own edges are not the button's */
    hw_set_bits(IO_PROC0_INTE(E5_DP_PIN), inte_prev);
    applied_count++;
    state = E5_IDLE;
}

void rp2040_isr_timer1(void)
{
    REG(TIMER_INTR) = 1u << 1;
    switch (state) {
    case E5_WAIT_SE0:
        if (line_state() == LS_SE0 && ++polls < E5_SE0_POLLS) {
            alarm_in(1000u); /* the host's reset lasts 10-20 ms */
        } else if (line_state() == LS_SE0) {
            state = E5_IDLE; /* still in reset after 50 ms: leave it to the next bus reset */
        } else {
            force_j();
        }
        break;
    case E5_FORCE_J:
        polls = 0;
        state = E5_WAIT_CONNECT;
        /* fall through */
    case E5_WAIT_CONNECT:
        if (!(*usb_reg(USB_SIE_STATUS) & USB_SIE_STATUS_CONNECTED_BITS) &&
            ++polls < E5_CONNECT_POLLS) {
            alarm_in(100u);
        } else {
            finish();
        }
        break;
    default:
        break;
    }
}

void usb_port_on_bus_reset(void)
{
    if (usb_port_chip_rev() != 1 || state != E5_IDLE ||
        !(*usb_reg(USB_SIE_CTRL) & USB_SIE_CTRL_PULLUP_EN_BITS)) {
        return; /* B2 and later do not need it; one at a time; only while connected */
    }
    polls = 0;
    state = E5_WAIT_SE0;
    hw_set_bits(TIMER_INTE, 1u << 1);
    rp2040_irq_enable(IRQ_TIMER1, true);
    alarm_in(1000u);
}

uint32_t rp2040_usb_e5_applied(void)
{
    return applied_count;
}
