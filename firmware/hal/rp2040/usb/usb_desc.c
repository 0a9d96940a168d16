/*
 * usb_desc.c - the descriptors (see usb_desc.h). Byte-exact tables: every field is named in
 * a comment because the emulator tests check them byte by byte.
 */
#include "usb_desc.h"

#include <stdbool.h>
#include <stddef.h>

#define LO(x) ((uint8_t)((x)&0xffu))
#define HI(x) ((uint8_t)(((x) >> 8) & 0xffu))

static const uint8_t device_desc[18] = {
    18,
    USB_DESC_DEVICE, /* bLength, bDescriptorType */
    0x00,
    0x02, /* bcdUSB 2.00 (full speed only) */
    0xef,
    0x02,
    0x01, /* Miscellaneous / Common / IAD: the function is described by its IAD */
    64,   /* bMaxPacketSize0 */
    LO(USB_DESC_VID),
    HI(USB_DESC_VID),
    LO(USB_DESC_PID),
    HI(USB_DESC_PID),
    0x00,
    0x01, /* bcdDevice 1.00 */
    1,
    2,
    3, /* iManufacturer, iProduct, iSerialNumber */
    1, /* bNumConfigurations */
};

static const uint8_t config_desc[USB_DESC_CONFIG_LEN] = {
    /* configuration */
    9, USB_DESC_CONFIGURATION, LO(USB_DESC_CONFIG_LEN), HI(USB_DESC_CONFIG_LEN),
    2,    /* bNumInterfaces */
    1,    /* bConfigurationValue */
    0,    /* iConfiguration */
    0x80, /* bmAttributes: bus powered, no remote wakeup */
    50,   /* bMaxPower: 100 mA */
    /* interface association: interfaces 0-1 are one CDC function */
    8, 0x0b, USB_CDC_IFACE_COMM, 2, 0x02, 0x02, 0x00, 0,
    /* interface 0: CDC communications, ACM, protocol 0 (no AT commands: ModemManager skips) */
    9, 0x04, USB_CDC_IFACE_COMM, 0, 1, 0x02, 0x02, 0x00, 0, 5, 0x24, 0x00, 0x10,
    0x01,                                                      /* CDC header, bcdCDC 1.10 */
    5, 0x24, 0x01, 0x00, USB_CDC_IFACE_DATA,                   /* call management: none */
    4, 0x24, 0x02, 0x02,                                       /* ACM: line coding + serial state */
    5, 0x24, 0x06, USB_CDC_IFACE_COMM, USB_CDC_IFACE_DATA,     /* union: comm -> data */
    7, 0x05, USB_CDC_EP_NOTIF, 0x03, USB_CDC_NOTIF_MPS, 0, 16, /* interrupt IN, 16 ms */
    /* interface 1: CDC data */
    9, 0x04, USB_CDC_IFACE_DATA, 0, 2, 0x0a, 0x00, 0x00, 0, 7, 0x05, USB_CDC_EP_OUT, 0x02,
    USB_CDC_BULK_MPS, 0, 0,                               /* bulk OUT */
    7, 0x05, USB_CDC_EP_IN, 0x02, USB_CDC_BULK_MPS, 0, 0, /* bulk IN */
};

static const uint8_t lang_desc[4] = {4, USB_DESC_STRING, 0x09, 0x04}; /* en-US */

static const char manufacturer[] = "picod";
/* 31 characters: its descriptor is exactly 64 bytes, so a host asking for 255 gets the
 * 64-byte packet and then a zero-length packet (the EP0 ZLP path is exercised every time). */
static const char product[] = "Raspberry Pi Pico running picod";

/* UTF-16LE string descriptors, built once: 2 + 2 * chars. */
static uint8_t manufacturer_desc[2 + 2 * (sizeof manufacturer - 1)];
static uint8_t product_desc[2 + 2 * (sizeof product - 1)];
static uint8_t serial_desc[2 + 2 * 16];

static void build_string(uint8_t *d, uint16_t cap, const char *s, uint16_t n)
{
    if (2u + 2u * n > cap) {
        n = (uint16_t)((cap - 2u) / 2u);
    }
    d[0] = (uint8_t)(2u + 2u * n);
    d[1] = USB_DESC_STRING;
    for (uint16_t i = 0; i < n; i++) {
        d[2 + 2 * i] = (uint8_t)s[i];
        d[3 + 2 * i] = 0;
    }
}

void usb_desc_init(const uint8_t id[8])
{
    static const char hex[] = "0123456789abcdef";
    char serial[16];
    for (size_t i = 0; i < 8; i++) { /* size_t: the host build (tests/fuzz) indexes in 64 bits */
        serial[2 * i] = hex[id[i] >> 4];
        serial[2 * i + 1] = hex[id[i] & 0x0f];
    }
    build_string(manufacturer_desc, sizeof manufacturer_desc, manufacturer,
                 sizeof manufacturer - 1);
    build_string(product_desc, sizeof product_desc, product, sizeof product - 1);
    build_string(serial_desc, sizeof serial_desc, serial, sizeof serial);
}

uint16_t usb_desc_get(uint8_t type, uint8_t index, const uint8_t **out)
{
    const uint8_t *d = 0;
    uint16_t len = 0;
    if (type == USB_DESC_DEVICE && index == 0) {
        d = device_desc;
        len = sizeof device_desc;
    } else if (type == USB_DESC_CONFIGURATION && index == 0) {
        d = config_desc;
        len = sizeof config_desc;
    } else if (type == USB_DESC_STRING) {
        static const uint8_t *const strings[] = {lang_desc, manufacturer_desc, product_desc,
                                                 serial_desc};
        if (index < sizeof strings / sizeof strings[0]) {
            d = strings[index];
            len = d[0];
        }
    }
    if (d != 0) {
        *out = d;
    }
    return len;
}
