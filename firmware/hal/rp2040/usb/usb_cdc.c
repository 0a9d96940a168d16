/*
 * usb_cdc.c - CDC-ACM class driver and the hal_link_* functions (see usb_link.h).
 *
 * Data path: host -> OUT EP 0x02 -> (interrupt) RX ring -> hal_link_read (task)
 *            hal_link_write (task) -> TX ring -> (interrupt) IN EP 0x82 -> host
 * Flow control host -> device is USB's own: when the RX ring has no room for a full packet
 * the OUT endpoint stays un-armed (the host sees NAK) until hal_link_read frees space.
 * Double buffering (USB_BULK_DOUBLE_BUFFER, usb_port.h): both bulk endpoints take two packets
 * per arming (OUT when the ring has room for two), so the host can send or fetch two back to
 * back while the interrupt handles the first.
 * Single producer / single consumer rings: the free-running indices are written by one side
 * only; a compiler barrier orders the data before the index.
 */
#include "usb_link.h"

#include "usb_core.h"
#include "usb_desc.h"
#include "usb_port.h"

_Static_assert((USB_LINK_RX_RING & (USB_LINK_RX_RING - 1)) == 0, "RX ring: power of two");
_Static_assert((USB_LINK_TX_RING & (USB_LINK_TX_RING - 1)) == 0, "TX ring: power of two");
_Static_assert(USB_LINK_RX_RING >= 2 * USB_CDC_BULK_MPS, "RX ring: room for two packets");

#define BARRIER() __asm volatile("" ::: "memory")

enum cdc_request {
    CDC_SET_LINE_CODING = 0x20,
    CDC_GET_LINE_CODING = 0x21,
    CDC_SET_CONTROL_LINE_STATE = 0x22,
    CDC_SEND_BREAK = 0x23,
};
#define CDC_LINE_DTR      0x01u
#define CDC_SERIAL_STATE  0x20u
#define CDC_STATE_DCD_DSR 0x03u

/* DPRAM buffers after EP0's: 128 bytes apart, room for the second buffer of each. */
#define BUF_NOTIF 0x180u
#define BUF_OUT   0x200u
#define BUF_IN    0x280u

#define BULK_NBUF (USB_BULK_DOUBLE_BUFFER ? 2u : 1u)

static const hal_events_t *events;
static uint8_t line_coding[7] = {0x00, 0xc2, 0x01, 0x00, 0, 0, 8}; /* 115200 8N1 */
static volatile bool dtr;
static volatile bool connected;

static uint8_t rx_buf[USB_LINK_RX_RING];
static volatile uint32_t rx_head, rx_tail; /* head: interrupt; tail: task */

static uint8_t tx_buf[USB_LINK_TX_RING];
static volatile uint32_t tx_head, tx_tail; /* head: task; tail: interrupt */
static bool last_in_full; /* the last IN packet was 64 bytes: end the transfer with a ZLP */
static bool notif_busy;
static uint8_t notif[10];

static usb_link_stats_t stats;

USB_RAMFUNC static uint32_t rx_free(void)
{
    return USB_LINK_RX_RING - (rx_head - rx_tail);
}

/* Arm the OUT endpoint for as many packets (up to BULK_NBUF) as the RX ring has room for.
 * The port refuses while the controller still owns a buffer or the endpoint is halted. */
USB_RAMFUNC static void arm_out_if_room(void)
{
    if (!usb_core_is_configured() || usb_port_ep_is_busy(USB_CDC_EP_OUT)) {
        return;
    }
    uint32_t packets = rx_free() / USB_CDC_BULK_MPS;
    if (packets > BULK_NBUF) {
        packets = BULK_NBUF;
    }
    if (packets > 0) {
        usb_port_ep_out(USB_CDC_EP_OUT, USB_CDC_BULK_MPS, (uint8_t)packets);
    }
}

/* Queue the next packet (or the closing ZLP) from the TX ring; false when there is none. */
USB_RAMFUNC static bool tx_queue_one(void)
{
    uint32_t used = tx_head - tx_tail;
    if (used == 0 && !last_in_full) {
        return false;
    }
    uint32_t words[USB_CDC_BULK_MPS / 4]; /* word-aligned: the port copies it by words */
    uint8_t *pkt = (uint8_t *)words;
    uint16_t n = used > USB_CDC_BULK_MPS ? USB_CDC_BULK_MPS : (uint16_t)used;
    uint32_t at = tx_tail & (USB_LINK_TX_RING - 1);
    uint16_t first = (uint16_t)(USB_LINK_TX_RING - at < n ? USB_LINK_TX_RING - at : n);
    for (uint16_t i = 0; i < first; i++) { /* two straight runs instead of masking each byte */
        pkt[i] = tx_buf[at + i];
    }
    for (uint16_t i = first; i < n; i++) {
        pkt[i] = tx_buf[i - first];
    }
    tx_tail += n;
    last_in_full = n == USB_CDC_BULK_MPS;
    stats.tx_bytes += n;
    stats.tx_zlp += n == 0 ? 1u : 0u;
    usb_port_ep_in_queue(USB_CDC_EP_IN, pkt, n);
    return true;
}

/* Fill the IN endpoint's free buffers (two when double-buffered and idle) and hand them over
 * together. Interrupts masked. */
USB_RAMFUNC static void tx_pump(void)
{
    if (!usb_core_is_configured()) {
        return;
    }
    uint8_t room = usb_port_ep_in_room(USB_CDC_EP_IN);
    bool queued = false;
    while (room-- > 0 && tx_queue_one()) {
        queued = true;
    }
    if (queued) {
        usb_port_ep_in_commit(USB_CDC_EP_IN);
    }
}

static void set_connected(bool c)
{
    if (c == connected) {
        return;
    }
    connected = c;
    if (!c) {
        tx_tail = tx_head; /* what the old host did not read is not for the next one */
        last_in_full = false;
    }
    if (events != 0 && events->link_state_cb != 0) {
        events->link_state_cb(c);
    }
}

static void send_serial_state(void)
{
    if (notif_busy) {
        return;
    }
    const uint8_t n[10] = {0xa1, CDC_SERIAL_STATE,  0, 0, USB_CDC_IFACE_COMM, 0, 2,
                           0,    CDC_STATE_DCD_DSR, 0};
    for (unsigned i = 0; i < sizeof n; i++) {
        notif[i] = n[i];
    }
    notif_busy = true;
    usb_port_ep_in(USB_CDC_EP_NOTIF, notif, sizeof notif);
}

/* ---- class driver callbacks (USB interrupt) ------------------------------------------- */

static void cdc_reset(void)
{
    dtr = false;
    set_connected(false);
    notif_busy = false;
    last_in_full = false;
}

static void cdc_configured(void)
{
    usb_port_ep_open(USB_CDC_EP_NOTIF, USB_EP_TYPE_INTERRUPT, USB_CDC_NOTIF_MPS, BUF_NOTIF, 1);
    usb_port_ep_open(USB_CDC_EP_OUT, USB_EP_TYPE_BULK, USB_CDC_BULK_MPS, BUF_OUT, BULK_NBUF);
    usb_port_ep_open(USB_CDC_EP_IN, USB_EP_TYPE_BULK, USB_CDC_BULK_MPS, BUF_IN, BULK_NBUF);
    arm_out_if_room();
}

static int cdc_control(const usb_setup_t *s, const uint8_t **in_data, uint16_t *in_len)
{
    /* Linux addresses the communications interface; rp2040js's helper sends its
     * SET_CONTROL_LINE_STATE to the device. Accept both. */
    uint8_t recip = s->bmRequestType & USB_REQ_RECIPIENT_MASK;
    if (!(recip == USB_REQ_RECIP_DEVICE ||
          (recip == USB_REQ_RECIP_IFACE && s->wIndex == USB_CDC_IFACE_COMM))) {
        return USB_CTRL_STALL;
    }
    switch (s->bRequest) {
    case CDC_SET_LINE_CODING:
        return s->wLength == sizeof line_coding ? USB_CTRL_OK : USB_CTRL_STALL;
    case CDC_GET_LINE_CODING:
        *in_data = line_coding;
        *in_len = sizeof line_coding;
        return USB_CTRL_OK;
    case CDC_SET_CONTROL_LINE_STATE:
        dtr = (s->wValue & CDC_LINE_DTR) != 0;
        set_connected(dtr && usb_core_is_configured());
        if (connected) {
            send_serial_state();
        }
        return USB_CTRL_OK;
    case CDC_SEND_BREAK:
        return USB_CTRL_OK;
    default:
        return USB_CTRL_STALL;
    }
}

static void cdc_control_out(const usb_setup_t *s, const uint8_t *data, uint16_t len)
{
    if (s->bRequest == CDC_SET_LINE_CODING && len == sizeof line_coding) {
        for (unsigned i = 0; i < sizeof line_coding; i++) {
            line_coding[i] = data[i];
        }
    }
}

USB_RAMFUNC static void out_done(uint16_t len)
{
    if (len == 0) {
        stats.rx_zlp++;
    } else {
        uint32_t words[USB_CDC_BULK_MPS / 4]; /* word-aligned: the port copies it by words */
        uint8_t *pkt = (uint8_t *)words;
        if (len > USB_CDC_BULK_MPS) {
            len = USB_CDC_BULK_MPS;
        }
        usb_port_ep_out_copy(USB_CDC_EP_OUT, pkt, len);
        uint32_t at = rx_head & (USB_LINK_RX_RING - 1);
        uint16_t first = (uint16_t)(USB_LINK_RX_RING - at < len ? USB_LINK_RX_RING - at : len);
        for (uint16_t i = 0; i < first; i++) {
            rx_buf[at + i] = pkt[i];
        }
        for (uint16_t i = first; i < len; i++) {
            rx_buf[i - first] = pkt[i];
        }
        BARRIER();
        rx_head += len;
        stats.rx_bytes += len;
    }
    arm_out_if_room();
    if (!usb_port_ep_is_busy(USB_CDC_EP_OUT)) {
        stats.rx_paused++;
    }
    if (len > 0 && events != 0 && events->link_rx_cb != 0) {
        events->link_rx_cb();
    }
}

USB_RAMFUNC static void cdc_xfer(uint8_t ep_addr, uint16_t len)
{
    if (ep_addr == USB_CDC_EP_OUT) {
        out_done(len);
    } else if (ep_addr == USB_CDC_EP_IN) {
        tx_pump(); /* refills once the controller has finished with both buffers */
        if (events != 0 && events->link_tx_cb != 0) {
            events->link_tx_cb();
        }
    } else if (ep_addr == USB_CDC_EP_NOTIF) {
        notif_busy = false;
    }
}

static void cdc_halt_cleared(uint8_t ep_addr)
{
    if (ep_addr == USB_CDC_EP_OUT) {
        arm_out_if_room();
    } else if (ep_addr == USB_CDC_EP_IN) {
        tx_pump();
    } else if (ep_addr == USB_CDC_EP_NOTIF) {
        notif_busy = false;
    }
}

static const usb_class_t cdc_class = {
    .reset = cdc_reset,
    .configured = cdc_configured,
    .control = cdc_control,
    .control_out = cdc_control_out,
    .xfer = cdc_xfer,
    .halt_cleared = cdc_halt_cleared,
};

/* ---- hal.h link API (tasks) ------------------------------------------------------------ */

void usb_link_init(const hal_events_t *ev)
{
    uint8_t id[PROTO_BOARD_ID_LEN];
    events = ev;
    hal_board_id(id);
    usb_desc_init(id);
    usb_core_init(&cdc_class);
}

size_t hal_link_read(uint8_t *buf, size_t cap)
{
    uint32_t tail = rx_tail;
    uint32_t avail = rx_head - tail;
    size_t n = avail < cap ? avail : cap;
    BARRIER();
    for (size_t i = 0; i < n; i++) {
        buf[i] = rx_buf[(tail + i) & (USB_LINK_RX_RING - 1)];
    }
    BARRIER();
    rx_tail = tail + (uint32_t)n;
    if (n > 0 && !usb_port_ep_is_busy(USB_CDC_EP_OUT)) {
        uint32_t irq = hal_irq_save();
        arm_out_if_room();
        hal_irq_restore(irq);
    }
    return n;
}

size_t hal_link_tx_space(void)
{
    return connected ? USB_LINK_TX_RING - (tx_head - tx_tail) : 0;
}

size_t hal_link_tx_pending(void)
{
    if (!connected) {
        return 0; /* nobody will take it: set_connected(false) already dropped it */
    }
    uint32_t irq = hal_irq_save();
    size_t n = (size_t)(tx_head - tx_tail);
    if (usb_port_ep_is_busy(USB_CDC_EP_IN)) {
        n += 1; /* a packet is armed and the host has not fetched it yet */
    }
    hal_irq_restore(irq);
    return n;
}

size_t hal_link_write(const uint8_t *buf, size_t len)
{
    size_t room = hal_link_tx_space();
    size_t n = len < room ? len : room;
    uint32_t head = tx_head;
    for (size_t i = 0; i < n; i++) {
        tx_buf[(head + i) & (USB_LINK_TX_RING - 1)] = buf[i];
    }
    BARRIER();
    tx_head = head + (uint32_t)n;
    if (n > 0) {
        uint32_t irq = hal_irq_save();
        tx_pump();
        hal_irq_restore(irq);
    }
    return n;
}

bool hal_link_is_connected(void)
{
    return connected;
}

void usb_link_stats(usb_link_stats_t *out)
{
    uint32_t irq = hal_irq_save();
    *out = stats;
    hal_irq_restore(irq);
}
