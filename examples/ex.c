/*
 * ex.c - text output and start-up shared by the examples.
 */
#include "ex.h"

#include <string.h>

uint32_t ex_dropped;

void ex_puts(const char *s)
{
    size_t n = strlen(s);
    size_t w = hal_link_write((const uint8_t *)s, n);
    ex_dropped += (uint32_t)(n - w);
}

void ex_putd(int32_t v)
{
    char buf[12];
    size_t i = sizeof(buf);
    uint32_t u = v < 0 ? (uint32_t)-v : (uint32_t)v;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0)
        buf[--i] = '-';
    ex_puts(&buf[i]);
}

void ex_line(const char *s, int32_t v, int with_value)
{
    ex_puts(s);
    if (with_value)
        ex_putd(v);
    ex_puts("\r\n");
}

void ex_init(void)
{
    hal_init(NULL);
    sched_init();
}

void ex_run(void)
{
    hal_watchdog_start(CONFIG_WATCHDOG_MS);
    sched_run();
}
