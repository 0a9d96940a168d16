/*
 * gpio.c - LED (output through SIO) and button (input with pull-up, interrupt on both edges).
 *
 * The button is active low: pressed pulls the pin to ground against the pad's pull-up. The
 * ISR acknowledges the edge, samples the level and reports it with a timestamp; debouncing is
 * the core's job (it sees every raw edge).
 */
#include "rp2040.h"
#include "rp2040_regs.h"

#define LED_MASK     (1u << PICOD_PIN_LED)
#define BUTTON_MASK  (1u << PICOD_PIN_BUTTON)
#define BUTTON_EDGES ((IO_IRQ_EDGE_LOW | IO_IRQ_EDGE_HIGH) << IO_IRQ_LSB(PICOD_PIN_BUTTON))

void rp2040_gpio_set_function(uint32_t pin, uint32_t func)
{
    REG(IO_GPIO_CTRL(pin)) = func;
}

void rp2040_gpio_init(void)
{
    rp2040_unreset(RESET_IO_BANK0 | RESET_PADS_BANK0);

    REG(SIO_GPIO_OE_CLR) = LED_MASK;
    REG(SIO_GPIO_OUT_CLR) = LED_MASK;
    REG(PADS_GPIO(PICOD_PIN_LED)) = PADS_DRIVE_4MA | PADS_IE;
    rp2040_gpio_set_function(PICOD_PIN_LED, GPIO_FUNC_SIO);
    REG(SIO_GPIO_OE_SET) = LED_MASK;

    REG(SIO_GPIO_OE_CLR) = BUTTON_MASK;
    REG(PADS_GPIO(PICOD_PIN_BUTTON)) = PADS_IE | PADS_PUE | PADS_SCHMITT | PADS_DRIVE_4MA;
    rp2040_gpio_set_function(PICOD_PIN_BUTTON, GPIO_FUNC_SIO);
    REG(IO_INTR(PICOD_PIN_BUTTON)) = BUTTON_EDGES; /* drop edges from before we looked */
    hw_set_bits(IO_PROC0_INTE(PICOD_PIN_BUTTON), BUTTON_EDGES);
    rp2040_irq_enable(IRQ_IO_BANK0, true);
}

void hal_led_set(bool on)
{
    REG(on ? SIO_GPIO_OUT_SET : SIO_GPIO_OUT_CLR) = LED_MASK;
}

bool hal_led_get(void)
{
    return (REG(SIO_GPIO_OUT) & LED_MASK) != 0;
}

bool hal_button_is_down(void)
{
    return (REG(SIO_GPIO_IN) & BUTTON_MASK) == 0;
}

void rp2040_isr_io_bank0(void)
{
    uint32_t pending = REG(IO_PROC0_INTS(PICOD_PIN_BUTTON)) & BUTTON_EDGES;
    if (pending == 0) {
        return;
    }
    REG(IO_INTR(PICOD_PIN_BUTTON)) = pending;
    /* Both edges may be latched after a fast bounce: the level now is what counts. */
    bool down = hal_button_is_down();
    uint32_t t = hal_time_us();
    if (rp2040_events->button_edge_cb) {
        rp2040_events->button_edge_cb(down, t);
    }
}
