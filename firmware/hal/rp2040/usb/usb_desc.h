/*
 * usb_desc.h - device, configuration and string descriptors of the picod CDC-ACM function.
 *
 * VID 0x2E8A (Raspberry Pi), PID USB_DESC_PID (see docs/USB.md), one configuration with an
 * IAD, the CDC communications interface (0, notification EP 0x81) and the data interface (1,
 * bulk OUT 0x02 / IN 0x82). The serial number string is the board ID as 16 lowercase hex
 * digits, the way picod prints it, so /dev/serial/by-id/ names are stable.
 */
#ifndef PICOD_USB_DESC_H
#define PICOD_USB_DESC_H

#include <stdint.h>

#define USB_DESC_VID 0x2e8au
#define USB_DESC_PID 0x5043u /* "PC": picod; not yet registered with Raspberry Pi */

#define USB_DESC_DEVICE        1u
#define USB_DESC_CONFIGURATION 2u
#define USB_DESC_STRING        3u

#define USB_CDC_IFACE_COMM  0u
#define USB_CDC_IFACE_DATA  1u
#define USB_CDC_EP_NOTIF    0x81u
#define USB_CDC_EP_OUT      0x02u
#define USB_CDC_EP_IN       0x82u
#define USB_CDC_NOTIF_MPS   16u
#define USB_CDC_BULK_MPS    64u
#define USB_DESC_CONFIG_LEN 75u

/* Build the string descriptors; id is the 8-byte board ID (borrowed for the call). */
void usb_desc_init(const uint8_t id[8]);

/* Find descriptor (type, index); returns its length and sets *out, or returns 0 if unknown. */
uint16_t usb_desc_get(uint8_t type, uint8_t index, const uint8_t **out);

#endif /* PICOD_USB_DESC_H */
