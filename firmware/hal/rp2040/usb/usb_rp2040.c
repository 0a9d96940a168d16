/*
 * usb_rp2040.c - hooks the USB link into the rp2040 port (PICOD_FW_LINK=usb): the port's
 * hal_init calls rp2040_link_init() after clocks (clk_usb 48 MHz), timer and board ID are up,
 * and its vector table routes USBCTRL_IRQ to rp2040_isr_usbctrl (usb_port.c).
 */
#include "rp2040.h"
#include "usb_link.h"

void rp2040_link_init(void)
{
    usb_link_init(rp2040_events);
}

bool rp2040_link_needs_usb_clock(void)
{
    return true;
}
