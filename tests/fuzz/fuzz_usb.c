/*
 * fuzz_usb.c - fuzz target for the firmware's USB device stack (firmware/hal/rp2040/usb:
 * usb_core.c control transfers and standard requests, usb_cdc.c the CDC-ACM class and the
 * hal_link_* rings, usb_desc.c the descriptors) over a fake port, the way TinyUSB fuzzes its
 * device stack over a fake DCD. The port (usb_port.c) is the only file that touches registers;
 * here usb_port.h is implemented by a model of the controller's endpoints that checks every
 * call against the contract in usb_port.h, and the fuzzer plays the host.
 *
 * Input: a little program, one op byte then its operands:
 *   0 SETUP (8 bytes)                 1 IN token on an endpoint (the host fetches a packet)
 *   2 OUT packet on an endpoint       3 bus reset             4 suspend / resume
 *   5 the link task reads             6 the link task writes  (anything else: as 0)
 * Checked, besides the sanitizers: no packet longer than its endpoint's max packet size, no
 * control reply longer than wLength, no copy of more OUT bytes than arrived, no endpoint number
 * outside the port's table; and the byte streams in both directions arrive whole and in order
 * (the data the host sends on bulk OUT is exactly what hal_link_read returns; what
 * hal_link_write takes comes out of bulk IN in order, except what a disconnect discards).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hal.h"
#include "usb_core.h"
#include "usb_desc.h"
#include "usb_link.h"
#include "usb_port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* ---- the fake controller ----------------------------------------------------------------- */

typedef struct fake_ep {
    bool open;
    uint16_t mps;
    uint8_t nbuf;
    bool stalled;
    /* IN: packets queued by the core and whether they were handed to the controller */
    uint8_t in_n;
    uint16_t in_len[2];
    uint8_t in_data[2][64];
    bool in_armed;
    /* OUT: packets the controller may take, of up to out_max bytes */
    uint8_t out_count;
    uint16_t out_max;
    const uint8_t *out_pkt; /* the packet being reported (inside usb_core_on_xfer) */
    uint16_t out_got;
} fake_ep_t;

static fake_ep_t eps[USB_PORT_MAX_EP][2]; /* [number][0 = OUT, 1 = IN] */
static uint8_t address;
static bool ep0_stalled;

static fake_ep_t *ep_of(uint8_t ep_addr)
{
    CHECK((ep_addr & 0x70u) == 0 && USB_EP_NUM(ep_addr) < USB_PORT_MAX_EP);
    return &eps[USB_EP_NUM(ep_addr)][USB_EP_IS_IN(ep_addr) ? 1 : 0];
}

static void ep0_open(void)
{
    for (int d = 0; d < 2; d++) {
        memset(&eps[0][d], 0, sizeof(eps[0][d]));
        eps[0][d].open = true;
        eps[0][d].mps = USB_EP0_MPS;
        eps[0][d].nbuf = 1;
    }
    ep0_stalled = false;
}

void usb_port_init(void)
{
    memset(eps, 0, sizeof(eps));
    ep0_open();
    address = 0;
}

void usb_port_reset(void)
{
    usb_port_init();
}

void usb_port_close_data_eps(void)
{
    memset(&eps[1], 0, sizeof(eps) - sizeof(eps[0]));
}

void usb_port_set_address(uint8_t addr)
{
    CHECK(addr <= 127);
    address = addr;
}

void usb_port_ep_open(uint8_t ep_addr, enum usb_ep_type type, uint16_t mps, uint16_t buf_off,
                      uint8_t nbuf)
{
    fake_ep_t *e = ep_of(ep_addr);
    CHECK(USB_EP_NUM(ep_addr) != 0 && type != USB_EP_TYPE_CONTROL);
    CHECK(mps >= 8 && mps <= 64 && (nbuf == 1 || nbuf == 2));
    CHECK(buf_off % 64 == 0 && buf_off >= 0x180u && buf_off + 64u * nbuf <= 4096u);
    memset(e, 0, sizeof(*e));
    e->open = true;
    e->mps = mps;
    e->nbuf = nbuf;
}

uint8_t usb_port_ep_in_room(uint8_t ep_addr)
{
    fake_ep_t *e = ep_of(ep_addr | USB_DIR_IN);
    return e->in_armed ? 0 : (uint8_t)(e->nbuf - e->in_n);
}

void usb_port_ep_in_queue(uint8_t ep_addr, const uint8_t *data, uint16_t len)
{
    fake_ep_t *e = ep_of(ep_addr | USB_DIR_IN);
    CHECK(e->open && len <= e->mps && (len == 0 || data));
    if (usb_port_ep_in_room(ep_addr) == 0)
        return;
    e->in_len[e->in_n] = len;
    if (len)
        memcpy(e->in_data[e->in_n], data, len);
    e->in_n++;
}

void usb_port_ep_in_commit(uint8_t ep_addr)
{
    fake_ep_t *e = ep_of(ep_addr | USB_DIR_IN);
    if (e->in_n > 0)
        e->in_armed = true;
}

void usb_port_ep_in(uint8_t ep_addr, const uint8_t *data, uint16_t len)
{
    usb_port_ep_in_queue(ep_addr, data, len);
    usb_port_ep_in_commit(ep_addr);
}

void usb_port_ep_out(uint8_t ep, uint16_t len, uint8_t count)
{
    CHECK(!USB_EP_IS_IN(ep));
    fake_ep_t *e = ep_of(ep);
    CHECK(e->open && len <= e->mps && count >= 1 && count <= e->nbuf);
    if (e->out_count > 0)
        return;
    e->out_count = count;
    e->out_max = len;
}

void usb_port_ep_out_copy(uint8_t ep, uint8_t *dst, uint16_t len)
{
    CHECK(!USB_EP_IS_IN(ep));
    fake_ep_t *e = ep_of(ep);
    CHECK(e->out_pkt != NULL && len <= e->out_got); /* only inside its report, only what came */
    memcpy(dst, e->out_pkt, len);
}

bool usb_port_ep_is_busy(uint8_t ep_addr)
{
    fake_ep_t *e = ep_of(ep_addr);
    return USB_EP_IS_IN(ep_addr) ? e->in_armed : e->out_count > 0;
}

void usb_port_ep0_setup(void)
{
    ep0_open();
}

void usb_port_ep0_stall(void)
{
    eps[0][0].out_count = 0;
    eps[0][1].in_n = 0;
    eps[0][1].in_armed = false;
    ep0_stalled = true;
}

void usb_port_ep_set_stall(uint8_t ep_addr, bool stall)
{
    fake_ep_t *e = ep_of(ep_addr);
    CHECK(USB_EP_NUM(ep_addr) != 0 && e->open);
    e->stalled = stall;
}

bool usb_port_ep_is_stalled(uint8_t ep_addr)
{
    return ep_of(ep_addr)->stalled;
}

/* ---- what usb_cdc.c needs from the rest of the HAL --------------------------------------- */

uint32_t hal_irq_save(void)
{
    return 0;
}

void hal_irq_restore(uint32_t state)
{
    (void)state;
}

void hal_board_id(uint8_t id[PROTO_BOARD_ID_LEN])
{
    for (int i = 0; i < PROTO_BOARD_ID_LEN; i++)
        id[i] = (uint8_t)(0xe6 + i);
}

/* A disconnect discards the TX ring, but not a packet already armed (up to 64 bytes of the old
 * session still reach the next host; its decoder resynchronises at the next frame delimiter).
 * So the next bulk IN packet either continues the stream or starts where the task's writes
 * resumed after one of the disconnects since (the points are kept in order). */
#define MAX_RESYNC 16
static uint8_t resync_at[MAX_RESYNC];
static size_t n_resync;
static uint8_t task_tx_next; /* next byte of the stream the task writes */

static void on_state(bool c)
{
    if (c)
        return;
    if (n_resync == MAX_RESYNC) {
        memmove(resync_at, resync_at + 1, MAX_RESYNC - 1);
        n_resync--;
    }
    resync_at[n_resync++] = task_tx_next;
}

static void nothing(void)
{
}

static const hal_events_t events = {
    .link_rx_cb = nothing, .link_tx_cb = nothing, .link_state_cb = on_state};

/* ---- the host ---------------------------------------------------------------------------- */

static const uint8_t *in;
static size_t in_len, in_pos;
static uint8_t host_out_next; /* next byte of the stream the host sends on bulk OUT */
static uint8_t task_rx_next;  /* ... which hal_link_read must return in order */
static uint8_t host_in_next;  /* next byte bulk IN must deliver (the task's stream, in order) */
static uint16_t ctl_len, ctl_sent; /* the current control transfer: wLength, reply bytes */

static uint8_t next(void)
{
    return in_pos < in_len ? in[in_pos++] : 0;
}

static void host_setup(void)
{
    uint8_t raw[8];
    for (int i = 0; i < 8; i++)
        raw[i] = next();
    ctl_len = (uint16_t)(raw[6] | raw[7] << 8);
    ctl_sent = 0;
    usb_core_on_setup(raw);
}

static void host_in(uint8_t n)
{
    fake_ep_t *e = &eps[n][1];
    if (!e->in_armed || e->stalled || (n == 0 && ep0_stalled))
        return; /* NAK or STALL */
    uint16_t len = e->in_len[0];
    uint8_t pkt[64];
    memcpy(pkt, e->in_data[0], len);
    e->in_n--;
    memmove(&e->in_data[0], &e->in_data[1], sizeof(e->in_data[1]));
    e->in_len[0] = e->in_len[1];
    e->in_armed = e->in_n > 0;
    if (n == 0) {
        ctl_sent = (uint16_t)(ctl_sent + len);
        CHECK(ctl_sent <= ctl_len); /* never more than the host asked for */
    } else if (n == USB_EP_NUM(USB_CDC_EP_IN)) {
        for (size_t k = 0; len > 0 && pkt[0] != host_in_next && k < n_resync; k++) {
            if (pkt[0] == resync_at[k]) { /* the stream restarted here: older points are gone */
                host_in_next = pkt[0];
                memmove(resync_at, resync_at + k + 1, n_resync - k - 1);
                n_resync -= k + 1;
            }
        }
        for (uint16_t i = 0; i < len; i++)
            CHECK(pkt[i] == host_in_next++);
    }
    usb_core_on_xfer((uint8_t)(n | USB_DIR_IN), len);
}

static void host_out(uint8_t n, uint16_t len)
{
    fake_ep_t *e = &eps[n][0];
    if (!e->open || e->out_count == 0 || e->stalled || (n == 0 && ep0_stalled))
        return; /* NAK or STALL: the host keeps its data */
    if (len > e->out_max)
        len = e->out_max;
    uint8_t pkt[64];
    bool bulk = n == USB_EP_NUM(USB_CDC_EP_OUT);
    if (bulk) {
        for (uint16_t i = 0; i < len; i++)
            pkt[i] = (uint8_t)(host_out_next + i);
        host_out_next = (uint8_t)(host_out_next + len);
    } else {
        /* the next len input bytes, 0 past its end, as next() gives them (one copy: gcc -O3
         * took a loop of next() for an overflow of pkt, not seeing out_max <= mps <= 64) */
        size_t have = in_len - in_pos < len ? in_len - in_pos : len;
        memcpy(pkt, in + in_pos, have);
        memset(pkt + have, 0, len - have);
        in_pos += have;
    }
    e->out_count--;
    e->out_pkt = pkt;
    e->out_got = len;
    usb_core_on_xfer(n, len);
    e->out_pkt = NULL;
}

static void task_read(size_t cap)
{
    uint8_t buf[1024];
    size_t n = hal_link_read(buf, cap);
    CHECK(n <= cap);
    for (size_t i = 0; i < n; i++)
        CHECK(buf[i] == task_rx_next++); /* nothing lost, doubled or reordered */
}

static void task_write(size_t len)
{
    uint8_t buf[1024];
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(task_tx_next + i);
    size_t space = hal_link_tx_space();
    size_t n = hal_link_write(buf, len);
    CHECK(n <= len && n <= space);
    task_tx_next = (uint8_t)(task_tx_next + n);
    (void)hal_link_tx_pending();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        usb_link_init(&events);
        started = true;
    }
    in = data;
    in_len = size;
    in_pos = 0;
    /* A fresh host: bus reset, the task takes what an earlier input left in the RX ring. */
    usb_core_on_bus_reset();
    uint8_t drain[USB_LINK_RX_RING];
    (void)hal_link_read(drain, sizeof(drain));
    host_out_next = task_rx_next = 0;
    host_in_next = task_tx_next;
    n_resync = 0;
    ctl_len = ctl_sent = 0;

    while (in_pos < in_len) {
        uint8_t op = next();
        switch (op % 8) {
        case 1:
            host_in((uint8_t)((op >> 3) % USB_PORT_MAX_EP));
            break;
        case 2:
            host_out((uint8_t)((op >> 3) % USB_PORT_MAX_EP), (uint16_t)(next() % 65));
            break;
        case 3:
            usb_core_on_bus_reset();
            break;
        case 4:
            usb_core_on_suspend((op & 0x80) != 0);
            break;
        case 5:
            task_read((size_t)next() * 4);
            break;
        case 6:
            task_write((size_t)next() * 4);
            break;
        default:
            host_setup();
            break;
        }
    }
    return 0;
}
