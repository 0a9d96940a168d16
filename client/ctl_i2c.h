/*
 * ctl_i2c.h - I2C results for a person: i2cdetect's 8x16 address grid and hex bytes.
 */
#ifndef PICOCTL_CTL_I2C_H
#define PICOCTL_CTL_I2C_H

#include <jansson.h>
#include <stdio.h>

/* The grid of i2cdetect(8): rows 00..70, "--" where nothing answered, the address where a
 * device did, blank outside the scanned 0x08..0x77. addresses: a JSON array of integers. */
void ctl_i2c_grid(FILE *f, const json_t *addresses);

/* Hex bytes ("60a1...") as "60 a1 ...", 16 a line; longer data gets "00: " offsets. */
void ctl_i2c_hex(FILE *f, const char *hex);

#endif /* PICOCTL_CTL_I2C_H */
