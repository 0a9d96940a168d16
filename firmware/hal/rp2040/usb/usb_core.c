/*
 * usb_core.c - control transfers and standard requests (see usb_core.h).
 */
#include "usb_core.h"

#include "usb_desc.h"
#include "usb_port.h"

enum ctrl_stage {
    STAGE_IDLE,
    STAGE_DATA_IN,    /* sending the reply */
    STAGE_DATA_OUT,   /* collecting the host's data */
    STAGE_STATUS_IN,  /* our ZLP is armed */
    STAGE_STATUS_OUT, /* waiting for the host's ZLP */
};

enum std_request {
    REQ_GET_STATUS = 0x00,
    REQ_CLEAR_FEATURE = 0x01,
    REQ_SET_FEATURE = 0x03,
    REQ_SET_ADDRESS = 0x05,
    REQ_GET_DESCRIPTOR = 0x06,
    REQ_GET_CONFIGURATION = 0x08,
    REQ_SET_CONFIGURATION = 0x09,
    REQ_GET_INTERFACE = 0x0a,
    REQ_SET_INTERFACE = 0x0b,
};

#define FEATURE_ENDPOINT_HALT 0u
#define NUM_INTERFACES        2u

static const usb_class_t *cls;
static struct {
    usb_setup_t setup;
    enum ctrl_stage stage;
    const uint8_t *in_ptr;
    uint16_t in_left;
    bool in_zlp;
    bool class_out; /* the OUT data goes to cls->control_out */
    uint8_t out_buf[USB_EP0_MPS];
    uint16_t out_len;
    uint8_t reply[2];
    uint8_t pending_addr; /* 0 = none */
} ctl;
static volatile bool configured;
static volatile bool suspended;
static uint32_t stall_count;
static uint32_t reset_count;

void usb_core_init(const usb_class_t *c)
{
    cls = c;
    usb_port_init();
}

bool usb_core_is_configured(void)
{
    return configured;
}

bool usb_core_is_suspended(void)
{
    return suspended;
}

uint32_t usb_core_stall_count(void)
{
    return stall_count;
}

uint32_t usb_core_reset_count(void)
{
    return reset_count;
}

static void deconfigure(void)
{
    if (cls != 0 && cls->reset != 0) {
        cls->reset();
    }
    configured = false;
}

void usb_core_on_bus_reset(void)
{
    reset_count++;
    deconfigure();
    usb_port_reset();
    ctl.stage = STAGE_IDLE;
    ctl.pending_addr = 0;
    suspended = false;
}

void usb_core_on_suspend(bool s)
{
    /* Nothing to power down on a Pico; remember it so the link can tell. */
    suspended = s;
}

static void send_next_in(void)
{
    uint16_t n = ctl.in_left > USB_EP0_MPS ? USB_EP0_MPS : ctl.in_left;
    if (n == 0) {
        ctl.in_zlp = false; /* this is the terminating zero-length packet */
    }
    usb_port_ep_in(0, ctl.in_ptr, n);
    ctl.in_ptr += n;
    ctl.in_left = (uint16_t)(ctl.in_left - n);
}

/* Reply with len bytes from data (cut to wLength). */
static void start_in(const uint8_t *data, uint16_t len)
{
    if (len > ctl.setup.wLength) {
        len = ctl.setup.wLength;
    }
    ctl.in_ptr = data;
    ctl.in_left = len;
    ctl.in_zlp = len < ctl.setup.wLength && (len % USB_EP0_MPS) == 0;
    ctl.stage = STAGE_DATA_IN;
    send_next_in();
}

static void start_status_in(void)
{
    ctl.stage = STAGE_STATUS_IN;
    usb_port_ep_in(0, 0, 0);
}

static void stall(void)
{
    stall_count++;
    ctl.stage = STAGE_IDLE;
    usb_port_ep0_stall();
}

static bool ep_is_valid(uint16_t ep_addr)
{
    uint8_t n = USB_EP_NUM(ep_addr);
    return (ep_addr & 0x70u) == 0 &&
           (n == 0 || (configured && (ep_addr == USB_CDC_EP_NOTIF || ep_addr == USB_CDC_EP_OUT ||
                                      ep_addr == USB_CDC_EP_IN)));
}

static bool set_configuration(uint16_t value)
{
    if (value > 1) {
        return false;
    }
    deconfigure();
    /* Configuration 0 (or a new one) closes the data endpoints: nothing is armed or accepted
     * on them until the class opens them again for configuration 1. */
    usb_port_close_data_eps();
    if (value == 1) {
        configured = true;
        if (cls != 0 && cls->configured != 0) {
            cls->configured();
        }
    }
    return true;
}

static bool feature(const usb_setup_t *s, bool set)
{
    uint8_t recip = s->bmRequestType & USB_REQ_RECIPIENT_MASK;
    if (recip == USB_REQ_RECIP_DEVICE) {
        return !set; /* no remote wakeup and no test modes at full speed: clearing is harmless */
    }
    if (recip != USB_REQ_RECIP_EP || s->wValue != FEATURE_ENDPOINT_HALT ||
        !ep_is_valid(s->wIndex) || USB_EP_NUM(s->wIndex) == 0) {
        return false;
    }
    uint8_t ep = (uint8_t)s->wIndex;
    usb_port_ep_set_stall(ep, set);
    if (!set && cls != 0 && cls->halt_cleared != 0) {
        cls->halt_cleared(ep);
    }
    return true;
}

/* Standard requests; returns false to STALL. Starts the data or status stage itself. */
static bool standard_request(const usb_setup_t *s)
{
    uint8_t recip = s->bmRequestType & USB_REQ_RECIPIENT_MASK;
    const uint8_t *d;
    uint16_t len;
    switch (s->bRequest) {
    case REQ_GET_DESCRIPTOR:
        len = usb_desc_get((uint8_t)(s->wValue >> 8), (uint8_t)s->wValue, &d);
        if (len == 0) {
            return false; /* includes the device qualifier: a full-speed device has none */
        }
        start_in(d, len);
        return true;
    case REQ_SET_ADDRESS:
        if (s->wValue > 127 || recip != USB_REQ_RECIP_DEVICE) {
            return false;
        }
        ctl.pending_addr = (uint8_t)(s->wValue | 0x80u); /* bit 7: "pending", even for 0 */
        start_status_in();
        return true;
    case REQ_SET_CONFIGURATION:
        if (!set_configuration(s->wValue)) {
            return false;
        }
        start_status_in();
        return true;
    case REQ_GET_CONFIGURATION:
        ctl.reply[0] = configured ? 1 : 0;
        start_in(ctl.reply, 1);
        return true;
    case REQ_GET_STATUS:
        ctl.reply[0] = 0;
        ctl.reply[1] = 0;
        if (recip == USB_REQ_RECIP_EP) {
            if (!ep_is_valid(s->wIndex)) {
                return false;
            }
            ctl.reply[0] = usb_port_ep_is_stalled((uint8_t)s->wIndex) ? 1 : 0;
        } else if (recip == USB_REQ_RECIP_IFACE && (!configured || s->wIndex >= NUM_INTERFACES)) {
            return false;
        }
        start_in(ctl.reply, 2);
        return true;
    case REQ_CLEAR_FEATURE:
    case REQ_SET_FEATURE:
        if (!feature(s, s->bRequest == REQ_SET_FEATURE)) {
            return false;
        }
        start_status_in();
        return true;
    case REQ_GET_INTERFACE:
        if (!configured || s->wIndex >= NUM_INTERFACES) {
            return false;
        }
        ctl.reply[0] = 0;
        start_in(ctl.reply, 1);
        return true;
    case REQ_SET_INTERFACE:
        if (!configured || s->wIndex >= NUM_INTERFACES || s->wValue != 0) {
            return false;
        }
        start_status_in();
        return true;
    default:
        return false;
    }
}

static bool class_request(const usb_setup_t *s)
{
    const uint8_t *d = 0;
    uint16_t len = 0;
    if (cls == 0 || cls->control == 0 || cls->control(s, &d, &len) != USB_CTRL_OK) {
        return false;
    }
    if (s->bmRequestType & 0x80u) {
        if (s->wLength == 0 || d == 0) {
            return false;
        }
        start_in(d, len);
    } else if (s->wLength > 0) {
        if (s->wLength > USB_EP0_MPS) {
            return false;
        }
        ctl.class_out = true;
        ctl.out_len = 0;
        ctl.stage = STAGE_DATA_OUT;
        usb_port_ep_out(0, USB_EP0_MPS, 1);
    } else {
        start_status_in();
    }
    return true;
}

void usb_core_on_setup(const uint8_t raw[8])
{
    usb_setup_t *s = &ctl.setup;
    s->bmRequestType = raw[0];
    s->bRequest = raw[1];
    s->wValue = (uint16_t)(raw[2] | (raw[3] << 8));
    s->wIndex = (uint16_t)(raw[4] | (raw[5] << 8));
    s->wLength = (uint16_t)(raw[6] | (raw[7] << 8));
    /* A SETUP ends whatever control transfer was in progress, stalled or not. */
    usb_port_ep0_setup();
    ctl.stage = STAGE_IDLE;
    ctl.class_out = false;
    ctl.pending_addr = 0;

    bool ok = false;
    switch (s->bmRequestType & USB_REQ_TYPE_MASK) {
    case USB_REQ_TYPE_STANDARD:
        ok = standard_request(s);
        break;
    case USB_REQ_TYPE_CLASS:
        ok = class_request(s);
        break;
    default:
        break;
    }
    if (!ok) {
        stall();
    }
}

static void ep0_in_done(void)
{
    if (ctl.stage == STAGE_DATA_IN) {
        if (ctl.in_left > 0 || ctl.in_zlp) {
            send_next_in();
            return;
        }
        ctl.stage = STAGE_STATUS_OUT;
        usb_port_ep_out(0, USB_EP0_MPS, 1);
    } else if (ctl.stage == STAGE_STATUS_IN) {
        if (ctl.pending_addr & 0x80u) {
            usb_port_set_address(ctl.pending_addr & 0x7fu);
            ctl.pending_addr = 0;
        }
        ctl.stage = STAGE_IDLE;
    }
}

static void ep0_out_done(uint16_t len)
{
    if (ctl.stage == STAGE_STATUS_OUT) {
        ctl.stage = STAGE_IDLE;
        return;
    }
    if (ctl.stage != STAGE_DATA_OUT) {
        return;
    }
    uint16_t room = (uint16_t)(sizeof ctl.out_buf - ctl.out_len);
    if (len > room) {
        len = room;
    }
    usb_port_ep_out_copy(0, ctl.out_buf + ctl.out_len, len);
    ctl.out_len = (uint16_t)(ctl.out_len + len);
    if (ctl.out_len < ctl.setup.wLength && len == USB_EP0_MPS) {
        usb_port_ep_out(0, USB_EP0_MPS, 1);
        return;
    }
    if (ctl.class_out && cls->control_out != 0) {
        cls->control_out(&ctl.setup, ctl.out_buf, ctl.out_len);
    }
    start_status_in();
}

USB_RAMFUNC void usb_core_on_xfer(uint8_t ep_addr, uint16_t len)
{
    if (USB_EP_NUM(ep_addr) == 0) {
        if (USB_EP_IS_IN(ep_addr)) {
            ep0_in_done();
        } else {
            ep0_out_done(len);
        }
        return;
    }
    if (configured && cls != 0 && cls->xfer != 0) {
        cls->xfer(ep_addr, len);
    }
}
