/* ctl_i2c.c - see ctl_i2c.h. */
#include "ctl_i2c.h"

#include <stdbool.h>
#include <string.h>

/* The addresses picod scans (docs/API.md: 0x08..0x77; the rest are reserved). */
#define CTL_I2C_FIRST 0x08
#define CTL_I2C_LAST  0x77

void ctl_i2c_grid(FILE *f, const json_t *addresses)
{
    bool found[128] = {false};

    for (size_t i = 0; i < json_array_size(addresses); i++) {
        json_int_t a = json_integer_value(json_array_get(addresses, i));
        if (a >= 0 && a < 128)
            found[a] = true;
    }
    fprintf(f, "     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f\n");
    for (int row = 0; row < 128; row += 16) {
        fprintf(f, "%02x:", row);
        for (int a = row; a < row + 16 && a <= CTL_I2C_LAST; a++) { /* no trailing blanks */
            if (found[a])
                fprintf(f, " %02x", a);
            else if (a < CTL_I2C_FIRST || a > CTL_I2C_LAST)
                fputs("   ", f);
            else
                fputs(" --", f);
        }
        fputc('\n', f);
    }
}

void ctl_i2c_hex(FILE *f, const char *hex)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        if (i % 16 == 0 && n > 16)
            fprintf(f, "%s%02zx:", i ? "\n" : "", i);
        fprintf(f, "%s%.2s", i % 16 == 0 && n <= 16 ? "" : " ", hex + 2 * i);
    }
    fputc('\n', f);
}
