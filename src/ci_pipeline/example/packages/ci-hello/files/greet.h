#ifndef CI_HELLO_GREET_H
#define CI_HELLO_GREET_H

#include <stddef.h>

/* The name greeted when none is given. */
#define GREET_DEFAULT_NAME "world"

/* Write "Hello, NAME!" into out (size bytes); return the length it needs, like snprintf. */
int greet(char *out, size_t size, const char *name);

#endif
