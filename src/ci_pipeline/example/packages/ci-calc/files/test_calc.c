/* Unit tests of calc_eval(): run by `make check`. */
#include <stdio.h>

#include "calc.h"

static int failures;

static void expect_value(const char *text, long wanted)
{
    long got = 0;
    enum calc_status status = calc_eval(text, &got);

    if (status != CALC_OK || got != wanted) {
        fprintf(stderr, "FAIL: \"%s\" = %ld (%s), wanted %ld\n", text, got, calc_strerror(status), wanted);
        failures++;
    }
}

static void expect_error(const char *text, enum calc_status wanted)
{
    long got = 0;
    enum calc_status status = calc_eval(text, &got);

    if (status != wanted) {
        fprintf(stderr, "FAIL: \"%s\" gave \"%s\", wanted \"%s\"\n", text, calc_strerror(status),
                calc_strerror(wanted));
        failures++;
    }
}

int main(void)
{
    expect_value("2+3", 5);
    expect_value("2 + 3 * 4", 14);
    expect_value("(2 + 3) * 4", 20);
    expect_value("10 - 4 - 3", 3);
    expect_value("17 / 5", 3);
    expect_value("17 % 5", 2);
    expect_value("-3 * -(2 + 1)", 9);
    expect_error("", CALC_SYNTAX);
    expect_error("2 +", CALC_SYNTAX);
    expect_error("(1 + 2", CALC_SYNTAX);
    expect_error("1 2", CALC_SYNTAX);
    expect_error("1 / 0", CALC_DIVIDE_BY_ZERO);
    expect_error("1 % (2 - 2)", CALC_DIVIDE_BY_ZERO);
    printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
