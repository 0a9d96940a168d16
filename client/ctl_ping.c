/* ctl_ping.c - see ctl_ping.h. */
#include "ctl_ping.h"

#include <math.h>

void ctl_ping_add(ctl_ping_stats_t *p, double rtt_ms)
{
    if (p->received == 0 || rtt_ms < p->min_ms)
        p->min_ms = rtt_ms;
    if (p->received == 0 || rtt_ms > p->max_ms)
        p->max_ms = rtt_ms;
    p->received++;
    p->sum_ms += rtt_ms;
    p->sum2_ms += rtt_ms * rtt_ms;
}

double ctl_ping_loss_pct(const ctl_ping_stats_t *p)
{
    return p->sent ? 100.0 * (p->sent - p->received) / p->sent : 0.0;
}

double ctl_ping_avg(const ctl_ping_stats_t *p)
{
    return p->received ? p->sum_ms / p->received : 0.0;
}

double ctl_ping_mdev(const ctl_ping_stats_t *p)
{
    double avg = ctl_ping_avg(p), var;

    if (!p->received)
        return 0.0;
    var = p->sum2_ms / p->received - avg * avg;
    return var > 0 ? sqrt(var) : 0.0;
}

void ctl_ping_summary(FILE *f, const char *target, const ctl_ping_stats_t *p, double time_ms)
{
    fprintf(f, "\n--- %s ping statistics ---\n", target);
    fprintf(f, "%u requests, %u replies, %.0f%% loss, time %.0fms\n", p->sent, p->received,
            ctl_ping_loss_pct(p), time_ms);
    if (p->received)
        fprintf(f, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", p->min_ms, ctl_ping_avg(p),
                p->max_ms, ctl_ping_mdev(p));
}

json_t *ctl_ping_json(const ctl_ping_stats_t *p, double time_ms)
{
    json_t *rtt = p->received
                      ? json_pack("{s:f, s:f, s:f, s:f}", "min", p->min_ms, "avg", ctl_ping_avg(p),
                                  "max", p->max_ms, "mdev", ctl_ping_mdev(p))
                      : json_null();

    return json_pack("{s:I, s:I, s:f, s:f, s:o}", "transmitted", (json_int_t)p->sent, "received",
                     (json_int_t)p->received, "loss_pct", ctl_ping_loss_pct(p), "time_ms",
                     round(time_ms), "rtt_ms", rtt);
}
