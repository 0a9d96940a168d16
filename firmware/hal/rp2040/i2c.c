/*
 * i2c.c - I2C0 master on GP0 (SDA) / GP1 (SCL), DW_apb_i2c, non-blocking.
 *
 * Bus speed: PICOD_I2C_HZ, 100 kHz by default. The pads' internal pull-ups are 50-80 kOhm
 * (RP2040 datasheet, pad electrical specification): far too weak for 400 kHz's 300 ns rise time
 * (fast mode needs roughly 2-4.7 kOhm on a bus of ~100-200 pF), and at 100 kHz (1000 ns) they
 * are still only good enough for a short bus with one breakout board that brings its own
 * 4.7-10 kOhm pull-ups. A bare sensor needs external pull-ups (4.7 kOhm to 3.3 V on SDA and
 * SCL; 2.2 kOhm for 400 kHz). 400 kHz: build with -DPICOD_I2C_HZ=400000 (CMake option
 * PICOD_FW_I2C_HZ), with external pull-ups. docs/BRINGUP.md says the same.
 *
 * A transfer is "write wlen bytes, repeated start, read rlen bytes, stop". hal_i2c_start()
 * loads the TAR register and as many commands as the 16-deep TX FIFO takes; hal_i2c_poll()
 * drains read data, tops the FIFO up and detects the end: STOP_DET after the last command,
 * or TX_ABRT (its source is read *before* the abort is cleared: clearing resets it). Every
 * wait is bounded by the transfer's deadline; an expired deadline aborts the transfer and
 * recovers the bus (9 SCL pulses bit-banged through SIO, then a STOP) in case a device holds
 * SDA low. The interrupt only masks itself and tells the core that polling will progress.
 */
#include "rp2040.h"
#include "rp2040_regs.h"

#ifndef PICOD_I2C_HZ
#define PICOD_I2C_HZ 100000u
#endif
#define I2C_HZ PICOD_I2C_HZ
_Static_assert(I2C_HZ >= 10000u && I2C_HZ <= 400000u, "PICOD_I2C_HZ: 10 kHz .. 400 kHz");
#define I2C_DEFAULT_TIMEOUT_US 25000u
#define I2C_RX_FIFO_DEPTH      16u
#define I2C_SHORT_WAIT_US      200u /* abort/disable completion: a few bit times */
#define SDA_MASK               (1u << PICOD_PIN_I2C0_SDA)
#define SCL_MASK               (1u << PICOD_PIN_I2C0_SCL)
#define I2C(off)               REG(I2C0_BASE + (off))

static struct {
    bool active;
    uint8_t addr;
    const uint8_t *wdata;
    uint8_t *rdata;
    size_t wlen, rlen;
    size_t sent; /* commands pushed (writes then reads) */
    size_t got;  /* read bytes received */
    uint32_t deadline;
    int last_result;
    uint32_t last_abort_source;
} xf;

static bool wait_clear_bounded(uint32_t off, uint32_t mask)
{
    uint32_t start = hal_time_us();
    while (I2C(off) & mask) {
        if (hal_time_us() - start > I2C_SHORT_WAIT_US) {
            return false;
        }
    }
    return true;
}

static void i2c_disable(void)
{
    I2C(IC_ENABLE) = 0;
    (void)wait_clear_bounded(IC_ENABLE_STATUS, 1u);
}

static void pins_to_i2c(void)
{
    rp2040_gpio_set_function(PICOD_PIN_I2C0_SDA, GPIO_FUNC_I2C);
    rp2040_gpio_set_function(PICOD_PIN_I2C0_SCL, GPIO_FUNC_I2C);
}

void rp2040_i2c_init(void)
{
    rp2040_unreset(RESET_I2C0);
    i2c_disable();
    I2C(IC_CON) = IC_CON_MASTER_MODE | IC_CON_SPEED_FAST | IC_CON_RESTART_EN |
                  IC_CON_SLAVE_DISABLE | IC_CON_TX_EMPTY_CTRL;
    I2C(IC_RX_TL) = 0; /* RX_FULL as soon as one byte is there */
    I2C(IC_TX_TL) = 0;
    /* clk_sys cycles per SCL period (1250 at 100 kHz, 312 at 400 kHz): low 3/5, high 2/5;
     * spike filter lcnt/16 (pico-sdk's i2c_set_baudrate does the same, also in FAST mode). */
    uint32_t sys_hz = rp2040_clk_sys_hz();
    uint32_t period = (sys_hz + I2C_HZ / 2u) / I2C_HZ;
    uint32_t lcnt = period * 3u / 5u;
    I2C(IC_FS_SCL_HCNT) = period - lcnt;
    I2C(IC_FS_SCL_LCNT) = lcnt;
    I2C(IC_FS_SPKLEN) = lcnt < 16u ? 1u : lcnt / 16u;
    /* SDA hold ~300 ns (a fast-mode requirement), in clk_sys cycles. */
    I2C(IC_SDA_HOLD) = sys_hz / 1000000u * 3u / 10u + 1u;
    I2C(IC_INTR_MASK) = 0;
    uint32_t pad = PADS_IE | PADS_PUE | PADS_SCHMITT | PADS_DRIVE_4MA;
    REG(PADS_GPIO(PICOD_PIN_I2C0_SDA)) = pad;
    REG(PADS_GPIO(PICOD_PIN_I2C0_SCL)) = pad;
    pins_to_i2c();
    rp2040_irq_enable(IRQ_I2C0, true);
}

/* Drive a line low (output enable with OUT = 0) or release it to the pull-up. */
static void line(uint32_t mask, bool low)
{
    REG(low ? SIO_GPIO_OE_SET : SIO_GPIO_OE_CLR) = mask;
    rp2040_delay_us_blocking(5u); /* 100 kHz half period */
}

/* Clock out whatever a device thinks it is still sending, then STOP. ~100 us, bounded. */
static void bus_recover(void)
{
    i2c_disable();
    REG(SIO_GPIO_OUT_CLR) = SDA_MASK | SCL_MASK;
    REG(SIO_GPIO_OE_CLR) = SDA_MASK | SCL_MASK;
    rp2040_gpio_set_function(PICOD_PIN_I2C0_SDA, GPIO_FUNC_SIO);
    rp2040_gpio_set_function(PICOD_PIN_I2C0_SCL, GPIO_FUNC_SIO);
    for (unsigned i = 0; i < 9u && !(REG(SIO_GPIO_IN) & SDA_MASK); i++) {
        line(SCL_MASK, true);
        line(SCL_MASK, false);
    }
    line(SCL_MASK, true); /* STOP: SDA rises while SCL is high */
    line(SDA_MASK, true);
    line(SCL_MASK, false);
    line(SDA_MASK, false);
    pins_to_i2c();
}

static void fill_tx(void)
{
    size_t total = xf.wlen + xf.rlen;
    while (xf.sent < total && (I2C(IC_STATUS) & IC_STATUS_TFNF)) {
        size_t i = xf.sent;
        uint32_t cmd;
        if (i < xf.wlen) {
            cmd = xf.wdata[i];
        } else {
            /* Never ask for more bytes than the RX FIFO can hold. */
            if ((i - xf.wlen) - xf.got >= I2C_RX_FIFO_DEPTH) {
                break;
            }
            cmd = IC_DATA_CMD_READ;
            if (i == xf.wlen && xf.wlen > 0) {
                cmd |= IC_DATA_CMD_RESTART;
            }
        }
        if (i == total - 1u) {
            cmd |= IC_DATA_CMD_STOP;
        }
        I2C(IC_DATA_CMD) = cmd;
        xf.sent++;
    }
}

static void drain_rx(void)
{
    while (xf.got < xf.rlen && I2C(IC_RXFLR) > 0) {
        xf.rdata[xf.got++] = (uint8_t)I2C(IC_DATA_CMD);
    }
}

static void arm_irq(void)
{
    uint32_t mask = IC_INTR_TX_ABRT | IC_INTR_STOP_DET | IC_INTR_RX_FULL;
    if (xf.sent < xf.wlen + xf.rlen) {
        mask |= IC_INTR_TX_EMPTY;
    }
    I2C(IC_INTR_MASK) = mask;
}

int hal_i2c_start(const hal_i2c_xfer_t *x)
{
    if (!x || x->bus != 0 || x->addr > 0x7fu || x->wlen + x->rlen == 0 || (x->wlen && !x->wdata) ||
        (x->rlen && !x->rdata)) {
        return -HAL_E_ARG;
    }
    if (xf.active) {
        return -HAL_E_BUSY;
    }
    i2c_disable(); /* TAR only changes while disabled */
    I2C(IC_TAR) = x->addr;
    (void)I2C(IC_CLR_INTR); /* stale STOP_DET / TX_ABRT from the previous transfer */
    I2C(IC_ENABLE) = 1u;
    xf.addr = x->addr;
    xf.wdata = x->wdata;
    xf.wlen = x->wlen;
    xf.rdata = x->rdata;
    xf.rlen = x->rlen;
    xf.sent = 0;
    xf.got = 0;
    xf.deadline = hal_time_us() + (x->timeout_us ? x->timeout_us : I2C_DEFAULT_TIMEOUT_US);
    xf.active = true;
    fill_tx();
    arm_irq();
    return 0;
}

static int finish(int result)
{
    I2C(IC_INTR_MASK) = 0;
    xf.active = false;
    xf.last_result = result;
    return result;
}

static int abort_result(uint32_t source)
{
    xf.last_abort_source = source;
    if (source & IC_ABRT_7B_ADDR_NOACK) {
        return -HAL_E_NACK_ADDR;
    }
    if (source & IC_ABRT_TXDATA_NOACK) {
        return -HAL_E_NACK_DATA;
    }
    return -HAL_E_BUS;
}

int hal_i2c_poll(void)
{
    if (!xf.active) {
        return xf.last_result;
    }
    uint32_t raw = I2C(IC_RAW_INTR_STAT);
    if (raw & IC_INTR_TX_ABRT) {
        uint32_t source = I2C(IC_TX_ABRT_SOURCE); /* read first: the clear wipes it */
        (void)I2C(IC_CLR_TX_ABRT);
        /* The master sends STOP by itself after an abort; let it finish. */
        (void)wait_clear_bounded(IC_STATUS, IC_STATUS_MST_ACTIVITY);
        int err = abort_result(source);
        if (err == -HAL_E_BUS) {
            bus_recover();
        }
        return finish(err);
    }
    drain_rx();
    fill_tx();
    if (xf.sent == xf.wlen + xf.rlen && xf.got == xf.rlen && (raw & IC_INTR_STOP_DET)) {
        (void)I2C(IC_CLR_STOP_DET);
        return finish(0);
    }
    if ((int32_t)(hal_time_us() - xf.deadline) >= 0) {
        I2C(IC_ENABLE) = 3u; /* ENABLE | ABORT: stop the transfer, flush the FIFO */
        (void)wait_clear_bounded(IC_ENABLE, 2u);
        (void)I2C(IC_CLR_INTR);
        bus_recover();
        return finish(-HAL_E_TIMEOUT);
    }
    arm_irq();
    return -HAL_E_BUSY;
}

/* Called by hal_idle_until before sleeping: a transfer that has something for poll() to do
 * must not wait for the interrupt (rp2040js does not model the I2C interrupt mask). */
bool rp2040_i2c_needs_poll(void)
{
    if (!xf.active) {
        return false;
    }
    uint32_t raw = I2C(IC_RAW_INTR_STAT);
    return (raw & (IC_INTR_TX_ABRT | IC_INTR_STOP_DET)) || I2C(IC_RXFLR) > 0;
}

void rp2040_isr_i2c0(void)
{
    I2C(IC_INTR_MASK) = 0; /* hal_i2c_poll re-arms it */
    if (rp2040_events->i2c_cb) {
        rp2040_events->i2c_cb();
    }
}
