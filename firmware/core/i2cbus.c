/*
 * i2cbus.c - transfer and scan sub-coroutines.
 */
#include "i2cbus.h"

#include <string.h>

#include "config.h"
#include "proto.h"

/* Poll at least this often even if the port never calls i2c_cb. */
#define I2C_POLL_US 500u
/* Grace beyond the transfer's own timeout before we give up on the port. */
#define I2C_GRACE_US 5000u

static sched_event_t i2c_ev;
static uint32_t errors;

void i2cbus_init(void)
{
    sched_event_init(&i2c_ev, true);
    errors = 0;
}

void i2cbus_isr(void)
{
    sched_event_set(&i2c_ev);
}

uint32_t i2cbus_errors(void)
{
    return errors;
}

int i2cbus_map_err(int hal_rc)
{
    switch (-hal_rc) {
    case HAL_OK:
        return 0;
    case HAL_E_BUSY:
        return -PROTO_E_BUSY;
    case HAL_E_NACK_ADDR:
        return -PROTO_E_I2C_NACK_ADDR;
    case HAL_E_NACK_DATA:
        return -PROTO_E_I2C_NACK_DATA;
    case HAL_E_TIMEOUT:
        return -PROTO_E_I2C_TIMEOUT;
    case HAL_E_BUS:
        return -PROTO_E_I2C_BUS;
    case HAL_E_ARG:
        return -PROTO_E_ARG;
    case HAL_E_UNSUPPORTED:
        return -PROTO_E_UNSUPPORTED;
    default:
        return -PROTO_E_INTERNAL;
    }
}

void i2cbus_set_write(i2cbus_op_t *op, uint8_t addr, const uint8_t *w, size_t wlen)
{
    i2cbus_set_read(op, addr, w, wlen, NULL, 0);
}

void i2cbus_set_read(i2cbus_op_t *op, uint8_t addr, const uint8_t *w, size_t wlen, uint8_t *r,
                     size_t rlen)
{
    op->lc = 0;
    op->probe = 0;
    op->x.bus = 0;
    op->x.addr = addr;
    op->x.wdata = w;
    op->x.wlen = wlen;
    op->x.rdata = r;
    op->x.rlen = rlen;
    op->x.timeout_us = CONFIG_I2C_TIMEOUT_US;
}

int i2cbus_xfer(sched_task_t *t, i2cbus_op_t *op)
{
    int rc = 0;
    uint32_t now, wait;
    SUB_BEGIN(&op->lc);
    sched_event_clear(&i2c_ev);
    rc = hal_i2c_start(&op->x);
    if (rc < 0) {
        errors++;
        SUB_RETURN(&op->lc, i2cbus_map_err(rc));
    }
    op->deadline = hal_time_us() + op->x.timeout_us + I2C_GRACE_US;
    for (;;) {
        rc = hal_i2c_poll();
        if (rc != -HAL_E_BUSY)
            break;
        now = hal_time_us();
        if (!sched_time_before(now, op->deadline)) {
            rc = -HAL_E_TIMEOUT; /* the port did not end it: report and move on */
            break;
        }
        wait = op->deadline - now;
        SUB_AWAIT(t, &op->lc, &i2c_ev, wait < I2C_POLL_US ? wait : I2C_POLL_US);
    }
    if (rc < 0 && !(op->probe && (rc == -HAL_E_NACK_ADDR || rc == -HAL_E_NACK_DATA)))
        errors++; /* a NACKed probe is the normal "nobody there" answer */
    SUB_RETURN(&op->lc, i2cbus_map_err(rc));
    SUB_END(&op->lc);
}

int i2cbus_scan(sched_task_t *t, i2cbus_scan_t *s, uint8_t map[16])
{
    int rc = 0;
    SUB_BEGIN(&s->lc);
    memset(map, 0, 16);
    for (s->addr = 0x08; s->addr <= 0x77; s->addr++) {
        i2cbus_set_read(&s->op, s->addr, NULL, 0, &s->probe, 1);
        s->op.probe = 1;
        SUB_CALL(&s->lc, rc, i2cbus_xfer(t, &s->op));
        if (rc == -PROTO_E_I2C_NACK_ADDR) {
            static const uint8_t zero = 0;
            i2cbus_set_write(&s->op, s->addr, &zero, 1);
            s->op.probe = 1;
            SUB_CALL(&s->lc, rc, i2cbus_xfer(t, &s->op));
            if (rc == -PROTO_E_I2C_NACK_DATA)
                rc = 0; /* the address was acknowledged */
        }
        if (rc == 0)
            map[s->addr >> 3] |= (uint8_t)(1u << (s->addr & 7));
        /* A NACKed probe ends without waiting: without this yield the whole 112-address
         * scan is one ~500 us run that delays every other task. */
        SUB_YIELD(t, &s->lc);
    }
    SUB_END(&s->lc);
}
