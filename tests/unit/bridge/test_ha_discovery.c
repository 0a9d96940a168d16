/* Unit tests of ha_discovery: topic names and the fields Home Assistant reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ha_discovery.h"

static const ha_ctx_t ctx = {"homeassistant", "picod", "lab", "0.1.0"};
static const ha_board_t board = {"0123456789abcdef", NULL, "0.1.0", "rp2040"};

static const char *str(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void test_topics(void **state)
{
    char t[256];

    (void)state;
    ha_topic(&ctx, t, sizeof(t), "bridge/state");
    assert_string_equal(t, "picod/lab/bridge/state");
    ha_board_topic(&ctx, board.id, t, sizeof(t), "sensor/0");
    assert_string_equal(t, "picod/lab/0123456789abcdef/sensor/0");
    ha_config_topic(&ctx, "light", board.id, "led", t, sizeof(t));
    assert_string_equal(t, "homeassistant/light/lab_0123456789abcdef/led/config");
}

static void test_sensor(void **state)
{
    json_t *j = ha_sensor_config(&ctx, &board, 1, HA_PRESSURE);
    const json_t *dev = json_object_get(j, "device");

    (void)state;
    assert_string_equal(str(j, "unique_id"), "picod_0123456789abcdef_s1_pressure");
    assert_string_equal(str(j, "name"), "Pressure 1");
    assert_string_equal(str(j, "device_class"), "pressure");
    assert_string_equal(str(j, "unit_of_measurement"), "Pa");
    assert_string_equal(str(j, "state_class"), "measurement");
    assert_string_equal(str(j, "state_topic"), "picod/lab/0123456789abcdef/sensor/1");
    assert_string_equal(str(dev, "via_device"), "picod-mqtt_lab");
    assert_string_equal(str(dev, "model"), "Pico (RP2040)");
    assert_string_equal(str(dev, "sw_version"), "0.1.0");
    assert_int_equal(json_array_size(json_object_get(j, "availability")), 2);
    json_decref(j);
}

static void test_trigger_and_light(void **state)
{
    json_t *t = ha_trigger_config(&ctx, &board, "button_long_press");
    json_t *l = ha_light_config(&ctx, &board);

    (void)state;
    assert_string_equal(str(t, "automation_type"), "trigger");
    assert_string_equal(str(t, "type"), "button_long_press");
    assert_string_equal(str(t, "payload"), "button_long_press");
    assert_string_equal(str(t, "topic"), "picod/lab/0123456789abcdef/action");
    assert_null(json_object_get(t, "availability")); /* device triggers have none */
    assert_string_equal(str(l, "command_topic"), "picod/lab/0123456789abcdef/led/set");
    assert_int_equal(json_array_size(json_object_get(l, "effect_list")), 3);
    json_decref(t);
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_sensor),
        cmocka_unit_test(test_trigger_and_light),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
