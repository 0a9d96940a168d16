/* Unit tests of bridge_opts: the node id rule, option and config-file parsing, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridge_opts.h"

static void test_sanitise(void **state)
{
    char out[BRIDGE_ID_MAX + 1], longer[100];

    (void)state;
    bridge_opts_sanitise_id("greenhouse.lan", out, sizeof(out));
    assert_string_equal(out, "greenhouse_lan");
    bridge_opts_sanitise_id("lab-2_Pi", out, sizeof(out));
    assert_string_equal(out, "lab-2_Pi");
    bridge_opts_sanitise_id("h\xc3\xa4us/1 x", out, sizeof(out));
    assert_string_equal(out, "h__us_1_x");
    bridge_opts_sanitise_id("", out, sizeof(out));
    assert_string_equal(out, "picod");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    bridge_opts_sanitise_id(longer, out, sizeof(out));
    assert_int_equal(strlen(out), BRIDGE_ID_MAX);
    assert_true(bridge_opts_is_valid_id("lab-2_Pi"));
    assert_false(bridge_opts_is_valid_id("a.b"));
    assert_false(bridge_opts_is_valid_id(""));
    assert_false(bridge_opts_is_valid_id(longer));
}

static int parse(bridge_opts_t *o, char *err, const char *a1, const char *a2, const char *a3,
                 const char *a4)
{
    char *argv[6] = {"picod-mqtt", (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    int argc = 1;

    while (argc < 5 && argv[argc])
        argc++;
    return bridge_opts_parse(o, argc, argv, err, 300);
}

static void test_defaults_and_broker(void **state)
{
    static bridge_opts_t o;
    char err[300];

    (void)state;
    unsetenv("PICOD_SOCKET");
    assert_int_equal(parse(&o, err, NULL, NULL, NULL, NULL), 0);
    assert_string_equal(o.host, "localhost");
    assert_int_equal(o.port, 1883);
    assert_string_equal(o.discovery_prefix, "homeassistant");
    assert_string_equal(o.base_topic, "picod");
    assert_string_equal(o.socket, "/run/picod/picod.sock");
    assert_true(bridge_opts_is_valid_id(o.node_id));
    assert_int_equal(parse(&o, err, "--broker", "10.0.0.2:1999", "--node-id", "lab"), 0);
    assert_string_equal(o.host, "10.0.0.2");
    assert_int_equal(o.port, 1999);
    assert_string_equal(o.client_id, "picod-mqtt-lab");
    assert_int_equal(parse(&o, err, "--broker", "mq", "--tls-ca", "/ca.crt"), 0);
    assert_int_equal(o.port, 8883); /* TLS's port when none is given */
}

static void test_refusals(void **state)
{
    static bridge_opts_t o;
    char err[300];

    (void)state;
    assert_int_equal(parse(&o, err, "--node-id", "my.host", NULL, NULL), -EINVAL);
    assert_non_null(strstr(err, "my.host"));
    assert_int_equal(parse(&o, err, "--broker", "h:99999", NULL, NULL), -EINVAL);
    assert_int_equal(parse(&o, err, "--keepalive", "2", NULL, NULL), -EINVAL);
    assert_non_null(strstr(err, "keepalive"));
    assert_int_equal(parse(&o, err, "--tls-cert", "/c", "--tls-ca", "/ca"), -EINVAL);
    assert_non_null(strstr(err, "tls-key"));
    assert_int_equal(parse(&o, err, "--password-file", "/nonexistent", NULL, NULL), -EINVAL);
    assert_non_null(strstr(err, "/nonexistent"));
    assert_int_equal(parse(&o, err, "--bogus", NULL, NULL, NULL), -EINVAL);
}

static void test_config_file(void **state)
{
    static bridge_opts_t o;
    char err[300], path[] = "/tmp/bridge-opts-XXXXXX", pw[] = "/tmp/bridge-pw-XXXXXX";
    int fd = mkstemp(path), pfd = mkstemp(pw);
    FILE *f = fdopen(fd, "w"), *p = fdopen(pfd, "w");

    (void)state;
    fputs("s3cret\nsecond line\n", p);
    fclose(p);
    fprintf(f,
            "[picod]\nudev = yes\n[mqtt]\nbroker = mq.lan:1884\nnode-id = shed\n"
            "username = u\npassword-file = %s\n",
            pw);
    fclose(f);
    assert_int_equal(parse(&o, err, "--config", path, "--node-id", "cli"), 0);
    assert_string_equal(o.host, "mq.lan");
    assert_int_equal(o.port, 1884);
    assert_string_equal(o.node_id, "cli"); /* the command line wins */
    assert_string_equal(o.password, "s3cret");
    f = fopen(path, "w");
    fputs("[mqtt]\nbrokr = x\n", f);
    fclose(f);
    assert_int_equal(parse(&o, err, "--config", path, NULL, NULL), -EINVAL);
    assert_non_null(strstr(err, "brokr"));
    assert_non_null(strstr(err, path));
    unlink(path);
    unlink(pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitise),
        cmocka_unit_test(test_defaults_and_broker),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
