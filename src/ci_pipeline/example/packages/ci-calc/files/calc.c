/* A recursive-descent evaluator: expr = term {(+|-) term}, term = factor {(*|/|%) factor},
 * factor = [-] (number | "(" expr ")"). */
#include <ctype.h>
#include <stdlib.h>

#include "calc.h"

struct parser {
    const char *at;
    enum calc_status status;
};

static long parse_expr(struct parser *p);

static void skip_blanks(struct parser *p)
{
    while (isspace((unsigned char)*p->at))
        p->at++;
}

static long parse_factor(struct parser *p)
{
    long value;
    char *end;

    skip_blanks(p);
    if (*p->at == '-') {
        p->at++;
        return -parse_factor(p);
    }
    if (*p->at == '(') {
        p->at++;
        value = parse_expr(p);
        skip_blanks(p);
        if (*p->at != ')') {
            p->status = CALC_SYNTAX;
            return 0;
        }
        p->at++;
        return value;
    }
    if (!isdigit((unsigned char)*p->at)) {
        p->status = CALC_SYNTAX;
        return 0;
    }
    value = strtol(p->at, &end, 10);
    p->at = end;
    return value;
}

static long parse_term(struct parser *p)
{
    long value = parse_factor(p);

    for (;;) {
        char op;
        long right;

        skip_blanks(p);
        op = *p->at;
        if (p->status != CALC_OK || (op != '*' && op != '/' && op != '%'))
            return value;
        p->at++;
        right = parse_factor(p);
        if (op == '*') {
            value *= right;
        } else if (right == 0) {
            p->status = CALC_DIVIDE_BY_ZERO;
            return 0;
        } else if (op == '/') {
            value /= right;
        } else {
            value %= right;
        }
    }
}

static long parse_expr(struct parser *p)
{
    long value = parse_term(p);

    for (;;) {
        char op;

        skip_blanks(p);
        op = *p->at;
        if (p->status != CALC_OK || (op != '+' && op != '-'))
            return value;
        p->at++;
        if (op == '+')
            value += parse_term(p);
        else
            value -= parse_term(p);
    }
}

enum calc_status calc_eval(const char *text, long *result)
{
    struct parser p = { text, CALC_OK };
    long value = parse_expr(&p);

    skip_blanks(&p);
    if (p.status == CALC_OK && *p.at != '\0')
        p.status = CALC_SYNTAX;
    if (p.status == CALC_OK)
        *result = value;
    return p.status;
}

const char *calc_strerror(enum calc_status status)
{
    switch (status) {
    case CALC_OK:
        return "no error";
    case CALC_SYNTAX:
        return "syntax error";
    case CALC_DIVIDE_BY_ZERO:
        return "division by zero";
    }
    return "unknown error";
}
