/*
 * usb_port.c - RP2040 USB controller, device mode (see usb_port.h).
 *
 * Datasheet facts this relies on:
 *  - A buffer control word is written twice: first everything but AVAILABLE, then (after
 *    clk_usb has seen it: a few cycles, since clk_sys runs faster) the same value with
 *    AVAILABLE. The controller owns the buffer from then until BUFF_STATUS says it is done.
 *  - SETUP packets land in DPRAM 0..7 regardless of what EP0 had armed; the hardware clears
 *    EP_STALL_ARM when one arrives, so a stalled control transfer ends by itself.
 *  - BUFF_STATUS, SIE_STATUS are write-1-to-clear.
 */
#include "usb_port.h"

#include "hal.h"
#include "usb_core.h"
#include "usb_regs.h"

/* TIMERAWL, read directly: hal_time_us() lives in flash, and a call from this SRAM code would
 * go through a long-branch veneer (the rp2040 port's TIMER counts microseconds). */
static inline uint32_t now_us(void)
{
    return *(volatile uint32_t *)0x40054028u;
}

typedef struct usb_ep {
    uint16_t buf_off; /* DPRAM offset of buffer 0 (buffer 1 follows at +64); 0 = not open */
    uint16_t mps;
    uint16_t len[2]; /* per buffer: length handed to the controller (IN) or offered (OUT) */
    uint32_t word;   /* buffer-control word of the current arming, without AVAILABLE */
    uint32_t avail;  /* its AVAILABLE bits */
    uint8_t type;
    uint8_t nbuf;   /* 1, or 2 when double-buffered */
    uint8_t queued; /* IN buffers filled but not yet handed over */
    uint8_t owned;  /* buffers handed to the controller and not yet reported */
    uint8_t next;   /* the buffer the controller completes next */
    uint8_t cur;    /* the buffer whose packet is being reported */
    bool next_pid1; /* next packet is DATA1 */
    bool stalled;
    bool deferred; /* E15: written without AVAILABLE, waiting for the next SOF */
} usb_ep_t;

static usb_ep_t eps[USB_PORT_MAX_EP][2]; /* [number][0 = OUT, 1 = IN] */
static uint32_t last_sof_us;
static bool sof_seen;
static bool sof_on;
static uint32_t e15_deferred_count;
static uint8_t chip_rev;
static uint32_t ep0_abort_count;

/* E15: arming a bulk IN buffer in the last ~200 us of a frame can leave the device state
 * machine unable to take the host's ACK (seen behind some hubs). Keep clear of that window;
 * it starts 10 us early because the SOF timestamp is taken in the interrupt, a little late. */
#define E15_WINDOW_START_US 790u
#define E15_WINDOW_END_US   998u

USB_RAMFUNC static usb_ep_t *ep_of(uint8_t ep_addr)
{
    return &eps[USB_EP_NUM(ep_addr) % USB_PORT_MAX_EP][USB_EP_IS_IN(ep_addr) ? 1 : 0];
}

USB_RAMFUNC static volatile uint32_t *buf_ctrl_of(uint8_t ep_addr)
{
    return usb_dpram_word(USB_DPRAM_BUF_CTRL(USB_EP_NUM(ep_addr), !USB_EP_IS_IN(ep_addr)));
}

USB_RAMFUNC static void short_delay(void)
{
    /* clk_sys 125 MHz vs clk_usb 48 MHz: give the controller three clk_usb cycles. */
    for (int i = 0; i < 4; i++) {
        __asm volatile("nop");
    }
}

/* Callers pass byte buffers; reading them as words must not break strict aliasing. */
typedef uint32_t __attribute__((may_alias)) word_alias_t;

/* Word-wise copies: DPRAM buffers are 64-byte aligned, and a word store is one bus access
 * (and one emulator call) where a byte store is a read-modify-write. */
USB_RAMFUNC static void dpram_write(uint16_t off, const uint8_t *src, uint16_t len)
{
    volatile uint32_t *dst = usb_dpram_word(off);
    uint16_t i = 0;
    if (((uintptr_t)src & 3u) == 0) { /* the common case: whole words straight across */
        const word_alias_t *w = (const word_alias_t *)(const void *)src;
        for (; i + 4 <= len; i += 4) {
            dst[i / 4] = w[i / 4];
        }
    }
    for (; i < len; i += 4) {
        uint32_t w = 0;
        for (uint16_t b = 0; b < 4 && i + b < len; b++) {
            w |= (uint32_t)src[i + b] << (8u * b);
        }
        dst[i / 4] = w;
    }
}

USB_RAMFUNC static void dpram_read(uint16_t off, uint8_t *dst, uint16_t len)
{
    const volatile uint32_t *src = usb_dpram_word(off);
    uint16_t i = 0;
    if (((uintptr_t)dst & 3u) == 0) {
        word_alias_t *w = (word_alias_t *)(void *)dst;
        for (; i + 4 <= len; i += 4) {
            w[i / 4] = src[i / 4];
        }
    }
    for (; i < len; i += 4) {
        uint32_t w = src[i / 4];
        for (uint16_t b = 0; b < 4 && i + b < len; b++) {
            dst[i + b] = (uint8_t)(w >> (8u * b));
        }
    }
}

/* Datasheet 4.1.2.5.3: write everything but AVAILABLE first, so that the controller (on
 * clk_usb) never sees AVAILABLE with the previous packet's length or PID. */
USB_RAMFUNC static void buf_ctrl_arm(volatile uint32_t *bc, uint32_t val, uint32_t avail)
{
    *bc = val;
    short_delay();
    *bc = val | avail;
}

USB_RAMFUNC static uint32_t half_bits(uint8_t h, uint32_t bits)
{
    return h ? bits << 16 : bits;
}

void usb_port_init(void)
{
    chip_rev = (uint8_t)(*(volatile uint32_t *)SYSINFO_CHIP_ID >> 28);
    volatile uint32_t *resets = (volatile uint32_t *)RESETS_BASE;
    resets[(RESETS_RESET + REG_ALIAS_SET) / 4] = RESETS_RESET_USBCTRL_BITS;
    resets[(RESETS_RESET + REG_ALIAS_CLR) / 4] = RESETS_RESET_USBCTRL_BITS;
    for (uint32_t n = 0; n < 100000u; n++) { /* bounded: the block leaves reset in ~µs */
        if (resets[RESETS_RESET_DONE / 4] & RESETS_RESET_USBCTRL_BITS) {
            break;
        }
    }
    for (uint32_t off = 0; off < USB_DPRAM_SIZE; off += 4) {
        *usb_dpram_word(off) = 0;
    }
    for (unsigned n = 0; n < USB_PORT_MAX_EP; n++) {
        eps[n][0] = (usb_ep_t){0};
        eps[n][1] = (usb_ep_t){0};
    }
    eps[0][0] =
        (usb_ep_t){.buf_off = USB_DPRAM_EP0_BUF, .mps = USB_EP0_MPS, .nbuf = 1, .next_pid1 = true};
    eps[0][1] = eps[0][0];

    *usb_reg(USB_MUXING) = USB_MUXING_TO_PHY_BITS | USB_MUXING_SOFTCON_BITS;
    /* The Pico has no VBUS sense wired to the controller: force "VBUS present". */
    *usb_reg(USB_PWR) = USB_PWR_VBUS_DETECT_BITS | USB_PWR_VBUS_DETECT_OVERRIDE_EN_BITS;
    *usb_reg(USB_MAIN_CTRL) = USB_MAIN_CTRL_CONTROLLER_EN_BITS;
    *usb_reg(USB_SIE_CTRL) = USB_SIE_CTRL_EP0_INT_1BUF_BITS;
    *usb_reg(USB_INTE) = USB_INT_BUFF_STATUS_BITS | USB_INT_BUS_RESET_BITS |
                         USB_INT_SETUP_REQ_BITS | USB_INT_DEV_SUSPEND_BITS |
                         USB_INT_DEV_RESUME_FROM_HOST_BITS;
    *(volatile uint32_t *)NVIC_ISER = 1u << USBCTRL_IRQ;
    *usb_reg(USB_SIE_CTRL + REG_ALIAS_SET) = USB_SIE_CTRL_PULLUP_EN_BITS;
}

static void sof_enable(bool on)
{
    if (on != sof_on) {
        sof_on = on;
        *usb_reg(USB_INTE + (on ? REG_ALIAS_SET : REG_ALIAS_CLR)) = USB_INT_DEV_SOF_BITS;
    }
}

void usb_port_close_data_eps(void)
{
    for (unsigned n = 1; n < USB_PORT_MAX_EP; n++) {
        for (unsigned d = 0; d < 2; d++) {
            *usb_dpram_word(USB_DPRAM_EP_CTRL(n, d == 0)) = 0;
            *usb_dpram_word(USB_DPRAM_BUF_CTRL(n, d == 0)) = 0;
            eps[n][d] = (usb_ep_t){0};
        }
    }
    sof_enable(false);
}

void usb_port_reset(void)
{
    usb_port_close_data_eps();
    usb_port_ep0_setup();
    *usb_reg(USB_ADDR_ENDP) = 0;
    sof_seen = false;
}

__attribute__((weak)) void usb_port_on_bus_reset(void)
{
}

uint8_t usb_port_chip_rev(void)
{
    return chip_rev;
}

uint32_t usb_port_ep0_aborts(void)
{
    return ep0_abort_count;
}

void usb_port_set_address(uint8_t addr)
{
    *usb_reg(USB_ADDR_ENDP) = addr & 0x7fu;
}

void usb_port_ep_open(uint8_t ep_addr, enum usb_ep_type type, uint16_t mps, uint16_t buf_off,
                      uint8_t nbuf)
{
    uint8_t n = USB_EP_NUM(ep_addr);
    if (n == 0 || n >= USB_PORT_MAX_EP || nbuf < 1 || nbuf > 2 || (nbuf == 2 && mps > 64)) {
        return;
    }
    usb_ep_t *ep = ep_of(ep_addr);
    *ep = (usb_ep_t){.buf_off = buf_off, .mps = mps, .type = (uint8_t)type, .nbuf = nbuf};
    *buf_ctrl_of(ep_addr) = 0;
    *usb_dpram_word(USB_DPRAM_EP_CTRL(n, !USB_EP_IS_IN(ep_addr))) =
        USB_EP_CTRL_ENABLE_BITS | USB_EP_CTRL_INTERRUPT_PER_BUFF_BITS |
        (nbuf == 2 ? USB_EP_CTRL_DOUBLE_BUFFERED_BITS : 0) |
        ((uint32_t)type << USB_EP_CTRL_ENDPOINT_TYPE_LSB) | buf_off;
}

USB_RAMFUNC static bool e15_in_critical_window(const usb_ep_t *ep)
{
    if (ep->type != USB_EP_TYPE_BULK || !sof_seen) {
        return false;
    }
    uint32_t since = now_us() - last_sof_us;
    /* The SOF interrupt was off (nothing to send): frames are 1 ms apart (+-500 ppm), so a
     * timestamp up to ~100 ms old still gives the phase within a few us. Older: unknown, arm
     * now (as TinyUSB does) and let the SOFs from now on time the rest. */
    if (since >= 1000u && since < 100000u) {
        while (since >= 1000u) {
            since -= 1000u;
        }
    }
    return since >= E15_WINDOW_START_US && since <= E15_WINDOW_END_US;
}

/* Add one packet's buffer-control bits (buffer h = count so far) to ep->word. */
USB_RAMFUNC static uint8_t ep_add_buffer(usb_ep_t *ep, uint32_t bits, uint16_t len)
{
    uint8_t h = ep->queued;
    if (h == 0) {
        ep->word = 0;
    }
    ep->word |= half_bits(h, bits | len | (ep->next_pid1 ? USB_BUF_CTRL_DATA1_PID : 0));
    ep->next_pid1 = !ep->next_pid1;
    ep->len[h] = len;
    ep->queued++;
    return h;
}

/* Hand the ep->queued buffers described by ep->word to the controller in one write. A
 * double-buffered endpoint also gets RESET: its buffer select restarts at buffer 0, whatever
 * an earlier arming or a bus reset left it on (datasheet 4.1.2.5.3). */
USB_RAMFUNC static void ep_commit(usb_ep_t *ep, volatile uint32_t *bc, bool defer)
{
    ep->avail = USB_BUF_CTRL_AVAILABLE | (ep->queued == 2 ? USB_BUF_CTRL_AVAILABLE << 16 : 0);
    if (ep->nbuf == 2) {
        ep->word |= USB_BUF_CTRL_RESET;
    }
    ep->owned = ep->queued;
    ep->queued = 0;
    ep->next = 0;
    if (defer) {
        *bc = ep->word;
        ep->deferred = true;
        e15_deferred_count++;
        return;
    }
    buf_ctrl_arm(bc, ep->word, ep->avail);
}

USB_RAMFUNC uint8_t usb_port_ep_in_room(uint8_t ep_addr)
{
    const usb_ep_t *ep = ep_of(ep_addr | USB_DIR_IN);
    if (ep->buf_off == 0 || ep->stalled || ep->owned > 0) {
        return 0;
    }
    return (uint8_t)(ep->nbuf - ep->queued);
}

USB_RAMFUNC void usb_port_ep_in_queue(uint8_t ep_addr, const uint8_t *data, uint16_t len)
{
    usb_ep_t *ep = ep_of(ep_addr | USB_DIR_IN);
    if (usb_port_ep_in_room(ep_addr) == 0 || len > ep->mps) {
        return;
    }
    dpram_write((uint16_t)(ep->buf_off + 64u * ep->queued), data, len);
    ep_add_buffer(ep, USB_BUF_CTRL_FULL, len);
}

USB_RAMFUNC void usb_port_ep_in_commit(uint8_t ep_addr)
{
    usb_ep_t *ep = ep_of(ep_addr | USB_DIR_IN);
    if (ep->queued == 0 || ep->owned > 0) {
        return;
    }
    if (ep->type == USB_EP_TYPE_BULK) {
        sof_enable(true); /* E15: frame timing while a bulk IN packet is out (handle_sof) */
    }
    ep_commit(ep, buf_ctrl_of(ep_addr | USB_DIR_IN), e15_in_critical_window(ep));
}

USB_RAMFUNC void usb_port_ep_in(uint8_t ep_addr, const uint8_t *data, uint16_t len)
{
    usb_ep_t *ep = ep_of(ep_addr | USB_DIR_IN);
    if (ep->buf_off == 0 || len > ep->mps) {
        return;
    }
    if (ep->nbuf == 1) {
        /* EP0 and the notification endpoint: a new packet replaces whatever was armed (a
         * control transfer's next stage, or a SETUP, supersedes the old one). */
        ep->owned = 0;
        ep->queued = 0;
        ep->deferred = false;
    }
    usb_port_ep_in_queue(ep_addr, data, len);
    usb_port_ep_in_commit(ep_addr);
}

USB_RAMFUNC void usb_port_ep_out(uint8_t ep_num, uint16_t len, uint8_t count)
{
    usb_ep_t *ep = ep_of(ep_num & 0x0fu);
    if (ep->buf_off == 0 || len > ep->mps || ep->stalled || count == 0) {
        return;
    }
    if (ep->nbuf == 1) {
        ep->owned = 0; /* EP0: a new stage replaces the old arming */
    } else if (ep->owned > 0) {
        return; /* never rewrite the word while the controller owns a buffer of it */
    }
    ep->queued = 0;
    for (uint8_t i = 0; i < count && i < ep->nbuf; i++) {
        ep_add_buffer(ep, 0, len);
    }
    ep_commit(ep, buf_ctrl_of(ep_num & 0x0fu), false);
}

USB_RAMFUNC void usb_port_ep_out_copy(uint8_t ep_num, uint8_t *dst, uint16_t len)
{
    const usb_ep_t *ep = ep_of(ep_num & 0x0fu);
    if (ep->buf_off != 0 && len <= ep->mps) {
        dpram_read((uint16_t)(ep->buf_off + 64u * ep->cur), dst, len);
    }
}

USB_RAMFUNC bool usb_port_ep_is_busy(uint8_t ep_addr)
{
    return ep_of(ep_addr)->owned > 0;
}

void usb_port_ep0_setup(void)
{
    /* A new SETUP ends the previous control transfer: on B2 and later abort whatever EP0 still
     * had armed, so the controller lets go of the buffer before it is rewritten (TinyUSB's
     * reset_ep0; RP2040-E2: EP_ABORT does not work on B0/B1, which just rewrite). */
    uint32_t abort = (eps[0][1].owned ? USB_EP_ABORT_EP0_IN_BITS : 0u) |
                     (eps[0][0].owned ? USB_EP_ABORT_EP0_OUT_BITS : 0u);
    if (chip_rev < 2) {
        abort = 0;
    }
    if (abort) {
        ep0_abort_count++;
        *usb_reg(USB_EP_ABORT + REG_ALIAS_SET) = abort;
        for (uint32_t n = 0; n < 1000u && (*usb_reg(USB_EP_ABORT_DONE) & abort) != abort; n++) {
        }
    }
    *usb_dpram_word(USB_DPRAM_BUF_CTRL(0, false)) = 0;
    *usb_dpram_word(USB_DPRAM_BUF_CTRL(0, true)) = 0;
    if (abort) {
        *usb_reg(USB_EP_ABORT_DONE) = abort; /* write-1-to-clear */
        *usb_reg(USB_EP_ABORT + REG_ALIAS_CLR) = abort;
    }
    *usb_reg(USB_EP_STALL_ARM + REG_ALIAS_CLR) =
        USB_EP_STALL_ARM_EP0_IN_BITS | USB_EP_STALL_ARM_EP0_OUT_BITS;
    for (unsigned d = 0; d < 2; d++) {
        eps[0][d].next_pid1 = true;
        eps[0][d].owned = 0;
        eps[0][d].queued = 0;
        eps[0][d].stalled = false;
    }
}

void usb_port_ep0_stall(void)
{
    /* EP0 needs both: EP_STALL_ARM (so the SIE may answer STALL) and the STALL bit. */
    *usb_reg(USB_EP_STALL_ARM + REG_ALIAS_SET) =
        USB_EP_STALL_ARM_EP0_IN_BITS | USB_EP_STALL_ARM_EP0_OUT_BITS;
    *usb_dpram_word(USB_DPRAM_BUF_CTRL(0, false)) = USB_BUF_CTRL_STALL;
    *usb_dpram_word(USB_DPRAM_BUF_CTRL(0, true)) = USB_BUF_CTRL_STALL;
    eps[0][0].stalled = eps[0][1].stalled = true;
    eps[0][0].owned = eps[0][1].owned = 0;
}

void usb_port_ep_set_stall(uint8_t ep_addr, bool stall)
{
    usb_ep_t *ep = ep_of(ep_addr);
    if (USB_EP_NUM(ep_addr) == 0 || ep->buf_off == 0) {
        return;
    }
    ep->stalled = stall;
    ep->owned = 0;
    ep->queued = 0;
    ep->deferred = false;
    if (!stall) {
        ep->next_pid1 = false;
    }
    *buf_ctrl_of(ep_addr) = stall ? USB_BUF_CTRL_STALL : 0;
}

bool usb_port_ep_is_stalled(uint8_t ep_addr)
{
    return ep_of(ep_addr)->stalled;
}

uint32_t usb_port_e15_deferred(void)
{
    return e15_deferred_count;
}

/* ---- interrupt ------------------------------------------------------------------------- */

/* Report the endpoint's completed buffers in the order the controller used them. One
 * BUFF_STATUS bit can stand for two buffers (the bit is set again at once if both completed),
 * so a double-buffered endpoint's buffers are read from their own AVAILABLE bits: the
 * controller clears AVAILABLE when it writes a buffer's status back (datasheet 4.1.2.5.3). A
 * single buffer is done when its bit is set (rp2040js clears AVAILABLE as soon as it is armed). */
USB_RAMFUNC static void ep_buffers_done(uint8_t n, uint8_t d)
{
    usb_ep_t *ep = &eps[n][d];
    const volatile uint32_t *bc = usb_dpram_word(USB_DPRAM_BUF_CTRL(n, d == 0));
    /* None owned: the bit is left over from an arming a SETUP or reset replaced, or a second
     * buffer already handled. Deferred (E15): written without AVAILABLE, nothing sent yet. */
    while (ep->owned > 0 && !ep->deferred) {
        uint8_t h = ep->next;
        uint32_t b = (h ? *bc >> 16 : *bc) & 0xffffu;
        if (ep->nbuf == 2 && (b & USB_BUF_CTRL_AVAILABLE)) {
            break; /* still the controller's */
        }
        ep->owned--;
        ep->next = (uint8_t)((h + 1u) % ep->nbuf);
        ep->cur = h;
        uint16_t len = d == 0 ? (uint16_t)(b & USB_BUF_CTRL_LEN_MASK) : ep->len[h];
        usb_core_on_xfer((uint8_t)(n | (d ? USB_DIR_IN : 0)), len); /* may arm again */
        if (ep->nbuf == 1) {
            break;
        }
    }
}

USB_RAMFUNC static void handle_buff_status(void)
{
    uint32_t bs = *usb_reg(USB_BUFF_STATUS);
    for (uint8_t n = 0; n < USB_PORT_MAX_EP && bs != 0; n++) {
        for (uint8_t d = 0; d < 2; d++) {
            uint32_t bit = 1u << (2u * n + (d == 0 ? 1u : 0u)); /* 2n = IN, 2n+1 = OUT */
            if (!(bs & bit)) {
                continue;
            }
            bs &= ~bit;
            *usb_reg(USB_BUFF_STATUS) =
                bit; /* before reading the buffers: a later one re-sets it */
            ep_buffers_done(n, d);
        }
    }
}

USB_RAMFUNC static void handle_sof(void)
{
    (void)*usb_reg(USB_SOF_RD); /* reading SOF_RD acknowledges DEV_SOF */
    last_sof_us = now_us();
    sof_seen = true;
    bool busy = false;
    for (unsigned n = 1; n < USB_PORT_MAX_EP; n++) {
        usb_ep_t *ep = &eps[n][1];
        if (ep->deferred) {
            ep->deferred = false;
            buf_ctrl_arm(usb_dpram_word(USB_DPRAM_BUF_CTRL(n, false)), ep->word, ep->avail);
        }
        busy = busy || (ep->type == USB_EP_TYPE_BULK && ep->owned > 0);
    }
    if (!busy) {
        sof_enable(false); /* nothing out: 1000 interrupts a second for nothing otherwise */
    }
}

static void handle_bus_reset(void)
{
    /* Forget the old state before acknowledging: a host (and rp2040js) may send the next
     * SETUP the moment BUS_RESET is cleared. */
    usb_core_on_bus_reset();
    *usb_reg(USB_BUFF_STATUS) = 0xffffffffu;
    *usb_reg(USB_SIE_STATUS) = USB_SIE_STATUS_BUS_RESET_BITS;
    usb_port_on_bus_reset();
}

static void handle_setup(void)
{
    *usb_reg(USB_SIE_STATUS) = USB_SIE_STATUS_SETUP_REC_BITS;
    uint8_t setup[8];
    dpram_read(USB_DPRAM_SETUP, setup, sizeof setup);
    usb_core_on_setup(setup);
}

USB_RAMFUNC void rp2040_isr_usbctrl(void)
{
    /* Bounded: anything still pending afterwards re-enters through the NVIC. */
    for (int round = 0; round < 8; round++) {
        uint32_t ints = *usb_reg(USB_INTS);
        if (ints == 0) {
            break;
        }
        if (ints & USB_INT_DEV_SOF_BITS) {
            handle_sof(); /* first: the E15 window is timed from this timestamp */
        }
        if (ints & USB_INT_BUS_RESET_BITS) {
            handle_bus_reset();
            continue;
        }
        /* Completions first: they belong to the transfer that was running before any new
         * SETUP (e.g. the SET_ADDRESS status stage, after which the address applies). */
        if (ints & USB_INT_BUFF_STATUS_BITS) {
            handle_buff_status();
        }
        if (ints & USB_INT_SETUP_REQ_BITS) {
            handle_setup();
        }
        if (ints & USB_INT_DEV_SUSPEND_BITS) {
            *usb_reg(USB_SIE_STATUS) = USB_SIE_STATUS_SUSPENDED_BITS;
            usb_core_on_suspend(true);
        }
        if (ints & USB_INT_DEV_RESUME_FROM_HOST_BITS) {
            *usb_reg(USB_SIE_STATUS) = USB_SIE_STATUS_RESUME_BITS;
            usb_core_on_suspend(false);
        }
    }
}
