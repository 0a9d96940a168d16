/*
 * usb_link.h - the host link of the rp2040 port over USB CDC-ACM.
 *
 * When the firmware is built with PICOD_FW_LINK=usb, this folder implements hal_link_read,
 * hal_link_write, hal_link_tx_space and hal_link_is_connected (hal.h) on top of a CDC-ACM
 * function, and the port's hal_init calls usb_link_init once clocks run (clk_usb = 48 MHz
 * from PLL_USB) and the timer counts. The vector table must route IRQ 5 (USBCTRL_IRQ) to
 * rp2040_isr_usbctrl (usb_port.h).
 *
 * Ring sizes are build-time macros; the interrupt only moves packets between the rings and
 * the endpoint buffers and calls ev->link_rx_cb / link_tx_cb / link_state_cb.
 */
#ifndef PICOD_USB_LINK_H
#define PICOD_USB_LINK_H

#include "hal.h"

#ifndef USB_LINK_RX_RING
#define USB_LINK_RX_RING 512u /* host -> device bytes; power of two, >= 128 */
#endif
#ifndef USB_LINK_TX_RING
#define USB_LINK_TX_RING 1024u /* device -> host bytes; power of two, >= 64 */
#endif

/* Build the descriptors (serial number = hal_board_id), start the controller and connect.
 * ev is borrowed for the program's lifetime; its callbacks run in the USB interrupt. */
void usb_link_init(const hal_events_t *ev);

/* Counters for tests and benchmarks (monotonic since boot). */
typedef struct usb_link_stats {
    uint32_t rx_bytes, tx_bytes;
    uint32_t rx_zlp, tx_zlp;
    uint32_t rx_paused; /* times OUT was left un-armed because the RX ring was full */
} usb_link_stats_t;
void usb_link_stats(usb_link_stats_t *out);

#endif /* PICOD_USB_LINK_H */
