#ifndef CI_CALC_CALC_H
#define CI_CALC_CALC_H

/* What calc_eval() found wrong, or CALC_OK. */
enum calc_status { CALC_OK = 0, CALC_SYNTAX, CALC_DIVIDE_BY_ZERO };

/* Evaluate an integer expression of + - * / % and parentheses into *result. */
enum calc_status calc_eval(const char *text, long *result);

/* A short English description of a status. */
const char *calc_strerror(enum calc_status status);

#endif
